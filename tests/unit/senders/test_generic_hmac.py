"""The generic ``hmac`` type: digests, encodings, prefixes, timestamp templates, locators."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, ConfigError, MalformedRequest, MissingSignature, TimestampOutOfWindow

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
BODY = json.dumps({"kind": "build.finished", "build": {"id": "b-9", "status": "ok"}}).encode()


def mac(secret: str, message: bytes, digest: str = "sha256", encoding: str = "hex") -> str:
    raw = hmac.new(secret.encode(), message, digest)
    return raw.hexdigest() if encoding == "hex" else base64.b64encode(raw.digest()).decode()


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_every_digest_and_encoding(digest: str, encoding: str) -> None:
    target = source("hmac", secrets=[SECRET], header="X-Sig", algorithm=digest, encoding=encoding)
    assert target.verify(inbound(BODY, {"x-sig": mac(SECRET, BODY, digest, encoding)}), NOW).event == "webhook"
    with pytest.raises(BadSignature, match="no secret matches"):
        target.verify(inbound(BODY + b" ", {"x-sig": mac(SECRET, BODY, digest, encoding)}), NOW)


GITHUB_LIKE = source("hmac", secrets=[SECRET, OLD_SECRET], header="X-Signature", prefix="sha256=",
                     event={"body": "kind"}, delivery_id={"body": "build.id"})


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_prefix_locators_and_rotation(secret: str) -> None:
    delivery = GITHUB_LIKE.verify(inbound(BODY, {"x-signature": "sha256=" + mac(secret, BODY)}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("build.finished", "b-9")


@pytest.mark.parametrize("header, error, message", [
    (DROP, MissingSignature, "missing x-signature"),
    (mac(SECRET, BODY), BadSignature, "no well-formed hex sha256"),
    ("sha256=" + mac(SECRET, BODY)[:-2], BadSignature, "no well-formed"),
    ("sha256=" + mac(fresh_secret(), BODY), BadSignature, "no secret matches"),
])
def test_tamper_matrix(header: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        GITHUB_LIKE.verify(inbound(BODY, {"x-signature": header}), NOW)


STAMPED = source("hmac", secrets=[SECRET], header="X-Signature", separator=",", prefix="v1=",
                 timestamp_header="X-Timestamp", signed_content="{timestamp}:{method}:{path}:{body}")


def stamped(timestamp: Any = NOW, *, signature: str | None = None, body: bytes = BODY):
    message = f"{timestamp}:POST:/src:".encode() + body
    value = signature if signature is not None else "v0=abc,v1=" + mac(SECRET, message)
    return inbound(body, {"x-signature": value, "x-timestamp": str(timestamp) if timestamp is not DROP else DROP})


def test_timestamped_template_with_several_signatures() -> None:
    delivery = STAMPED.verify(stamped(), NOW)
    assert delivery.delivery_id.startswith("sha256-")
    assert STAMPED.sign(SECRET.encode(), stamped()) == "v1=" + mac(SECRET, f"{NOW}:POST:/src:".encode() + BODY)


@pytest.mark.parametrize("request_, now, error, message", [
    (lambda: stamped(DROP), NOW, MissingSignature, "x-timestamp"),
    (lambda: stamped("abc"), NOW, BadSignature, "not a Unix timestamp"),
    (lambda: stamped(), NOW + 301, TimestampOutOfWindow, "old"),
    (lambda: stamped(), NOW - 301, TimestampOutOfWindow, "future"),
    (lambda: inbound(BODY, {**stamped().headers, "x-timestamp": str(NOW + 1)}), NOW, BadSignature, "no secret"),
])
def test_timestamp_tamper_matrix(request_: Any, now: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        STAMPED.verify(request_(), now)


def test_millisecond_timestamps() -> None:
    target = source("hmac", secrets=[SECRET], header="X-Sig", timestamp_header="X-Ts", timestamp_unit="ms")
    stamp = str(NOW * 1000)
    request = inbound(BODY, {"x-sig": mac(SECRET, f"{stamp}.".encode() + BODY), "x-ts": stamp})
    target.verify(request, NOW)
    with pytest.raises(TimestampOutOfWindow):
        target.verify(request, NOW + 400)


def test_url_placeholder_uses_public_url() -> None:
    target = source("hmac", secrets=[SECRET], header="X-Sig", signed_content="{url}|{body}",
                    public_url="https://hooks.example.com/src")
    message = b"https://hooks.example.com/src?a=1|" + BODY
    target.verify(inbound(BODY, {"x-sig": mac(SECRET, message)}, query="a=1"), NOW)


def test_event_header_is_required_when_configured() -> None:
    target = source("hmac", secrets=[SECRET], header="X-Sig", event={"header": "X-Event"})
    with pytest.raises(MalformedRequest, match="no event name in header 'x-event'"):
        target.verify(inbound(BODY, {"x-sig": mac(SECRET, BODY)}), NOW)


def test_generic_bodies() -> None:
    target = source("hmac", secrets=[SECRET], header="X-Sig")
    form = b"a=1&b=2&b=3"
    assert target.verify(inbound(form, {"x-sig": mac(SECRET, form)}, content_type="application/x-www-form-urlencoded"),
                         NOW).body == {"a": "1", "b": ["2", "3"]}
    assert target.verify(inbound(b"", {"x-sig": mac(SECRET, b"")}, content_type=None), NOW).body == {}
    assert target.verify(inbound(b"hello", {"x-sig": mac(SECRET, b"hello")}, content_type="text/plain"), NOW).body == "hello"


@pytest.mark.parametrize("options, message", [
    ({}, "header: the signature header is required"),
    ({"header": "X Sig"}, "not an HTTP header name"),
    ({"header": "X-Sig", "algorithm": "md5"}, "algorithm: expected one of sha1, sha256, sha512"),
    ({"header": "X-Sig", "encoding": "base32"}, "encoding"),
    ({"header": "X-Sig", "signed_content": "{timestamp}"}, "must contain {body} exactly once"),
    ({"header": "X-Sig", "signed_content": "{body}{body}"}, "exactly once"),
    ({"header": "X-Sig", "signed_content": "{nonce}{body}"}, "unknown placeholder {nonce}"),
    ({"header": "X-Sig", "signed_content": "{timestamp}.{body}"}, "needs timestamp_header"),
    ({"header": "X-Sig", "timestamp_header": "X-Ts", "signed_content": "{body}"}, "must contain {timestamp}"),
    ({"header": "X-Sig", "timestamp_unit": "us"}, "timestamp_unit"),
    ({"header": "X-Sig", "prefix": ""}, "prefix"),
])
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        source("hmac", secrets=[SECRET], **options)
