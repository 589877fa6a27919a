"""Body parsing: strict JSON, form payloads, media types."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import pytest

from airhook.body import MAX_DEPTH, check_depth, parse_body, parse_form, parse_form_payload, parse_json
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


# ----------------------------------------------------------------- forms: bounded, as parse_qs reads them


@pytest.mark.parametrize("raw, expected", [
    (b"", {}),
    (b"a=1&b=2&a=3", {"a": ["1", "3"], "b": ["2"]}),
    (b"a&b=", {"a": [""], "b": [""]}),
    (b"&&a=1&", {"a": ["1"]}),
    (b"Body=deploy+prod+%E2%9C%93&From=%2B15005550006", {"Body": ["deploy prod \u2713"], "From": ["+15005550006"]}),
    (b"k=a=b%3Dc", {"k": ["a=b=c"]}),  # a literal '=' in a value, as parse_qs keeps it
    (b"k=%25%2541", {"k": ["%%41"]}),
    (b"k=%0d%0A", {"k": ["\r\n"]}),
    (b"%41%42=%43", {"AB": ["C"]}),
    (b"k=a;b", {"k": ["a;b"]}),  # '&' is the only separator (Python >= 3.10)
])
def test_form_vectors(raw: bytes, expected: dict[str, list[str]]) -> None:
    assert parse_form(raw) == expected
    assert parse_qs(raw.decode(), keep_blank_values=True, errors="strict") == expected


@pytest.mark.parametrize("raw", [
    pytest.param(b"k=%", id="trailing-percent"),
    pytest.param(b"k=%4", id="short-escape"),
    pytest.param(b"k=%zz", id="bad-escape"),
    pytest.param(b"k=%%41", id="double-percent"),
    pytest.param(b"k=%\r\n", id="percent-line-break"),
    pytest.param(b"k=%FF", id="not-utf8"),
    pytest.param("k=\u00e9".encode(), id="not-ascii"),
    pytest.param(b"&".join([b"a=1"] * 1001), id="too-many-fields"),
])
def test_malformed_forms(raw: bytes) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_form(raw)
    assert caught.value.public == "body is not a valid form"


def test_form_agrees_with_parse_qs_on_random_inputs() -> None:
    # The decoder is quoted-printable's (C speed, bounded memory): it must equal unquote_plus on
    # everything without a lone '%', which it refuses.
    import random
    import re
    rng = random.Random(20261130)
    alphabet = b"%=+&ab09AFfgZ _-.~!*'();\t\r\n"
    lone = re.compile(rb"%(?![0-9A-Fa-f]{2})")
    for _ in range(20000):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        if rng.random() < 0.2:
            raw += rng.choice([b"%C3%A9", b"%FF", b"%e2%9c%93"])
        try:
            expected = parse_qs(raw.decode("ascii"), keep_blank_values=True, errors="strict")
        except ValueError:
            expected = None
        try:
            got = parse_form(raw)
        except MalformedRequest:
            got = None
        assert got == (None if lone.search(raw) else expected), raw


@pytest.mark.parametrize("raw", [
    pytest.param(b"a=" + b"%41" * (4 * 1024 * 1024 // 3), id="escapes"),
    pytest.param(b"a=" + b"=" * (4 * 1024 * 1024), id="literal-equals"),
    pytest.param(b"&".join([b"k" * 3000 + b"=" + b"%41" * 1000] * 999), id="many-fields"),
])
def test_form_memory_is_a_small_multiple_of_the_body(raw: bytes) -> None:
    import tracemalloc
    tracemalloc.start()
    try:
        parse_form(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * len(raw), peak / len(raw)  # parse_qs: ~80x on escapes
