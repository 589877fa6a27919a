"""Body parsing: strict JSON, form payloads, media types."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from airhook.body import MAX_DEPTH, check_depth, parse_body, parse_form_payload, parse_json
from airhook.errors import MalformedRequest, UnsupportedMediaType


@pytest.mark.parametrize("raw, expected", [
    (b'{"a": 1}', {"a": 1}),
    (b'[1, 2.5, "x", null, true]', [1, 2.5, "x", None, True]),
    ('{"é": "ü"}'.encode(), {"é": "ü"}),
    (b'{"big": 1e308}', {"big": 1e308}),
])
def test_valid_json(raw: bytes, expected: object) -> None:
    assert parse_json(raw) == expected


@pytest.mark.parametrize("raw, message", [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b'{"a": NaN}', "not valid JSON"),
    (b'{"a": Infinity}', "not valid JSON"),
    (b'{"a": -Infinity}', "not valid JSON"),
    (b'{"a": 1e400}', "not valid JSON"),
    (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"[" * 10000 + b"]" * 10000, "nested too deep"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested too deep"),
])
def test_refused_json(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_json(raw)
    assert message in caught.value.public


def test_depth_limit_is_inclusive() -> None:
    check_depth(parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH))
    with pytest.raises(MalformedRequest, match="deeper than 64"):
        check_depth(parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)))


def test_large_bodies_parse_with_the_gc_paused_and_restored() -> None:
    import gc
    big = b'{"commits": [' + b",".join([b'{"id": "x", "added": ["a"]}'] * 60000) + b"]}"
    assert len(big) > (1 << 20)
    assert len(parse_json(big)["commits"]) == 60000
    assert gc.isenabled()


@pytest.mark.parametrize("body, message", [
    (urlencode({"other": "{}"}), "exactly one"),
    (urlencode([("payload", "{}"), ("payload", "{}")]), "exactly one"),
    (urlencode({"payload": "{nope"}), "not valid JSON"),
    ("payload=%FF%FE", "not a valid form"),
    ("payload=caf\u00e9", "not a valid form"),
])
def test_refused_form(body: str, message: str) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_form_payload(body.encode("utf-8"))
    assert message in caught.value.public


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.github+json", "text/json"])
def test_json_media_types(content_type: str) -> None:
    assert parse_body(b"{}", content_type) == {}


@pytest.mark.parametrize("content_type", ["", "text/plain", "multipart/form-data"])
def test_unsupported_media_types(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_body(b"{}", content_type)
