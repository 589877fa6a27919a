"""PagerDuty v3: ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]`` over the raw body; pagey.ping."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, MalformedRequest, MissingSignature
from airhook.senders.pagerduty import sign

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("pagerduty", secrets=[SECRET])
ROTATING = source("pagerduty", secrets=[SECRET, OLD_SECRET])


def event(kind: str = "incident.triggered", ident: Any = "01DEN7U7KQ2N8WMXKDR5QKJ6ZH") -> bytes:
    inner = {"event_type": kind, "resource_type": "incident", "occurred_at": "2020-10-02T18:45:22.169Z",
             "data": {"id": "PGR0VU2", "title": "disk full"}}
    if ident is not DROP:
        inner["id"] = ident
    return json.dumps({"event": inner}).encode()


def v1(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_sign_lists_one_signature_per_secret() -> None:
    body = event()
    assert sign([SECRET.encode(), OLD_SECRET.encode()], body) == f"{v1(SECRET, body)},{v1(OLD_SECRET, body)}"


def test_verified_incident() -> None:
    body = event()
    delivery = SOURCE.verify(inbound(body, {"x-pagerduty-signature": v1(SECRET, body)}), NOW)
    assert (delivery.event, delivery.delivery_id, delivery.reply) == (
        "incident.triggered", "01DEN7U7KQ2N8WMXKDR5QKJ6ZH", None)


@pytest.mark.parametrize("header", [
    lambda b: f"{v1(fresh_secret(), b)},{v1(SECRET, b)}",   # PagerDuty rotating its secret
    lambda b: f"{v1(SECRET, b)}, {v1(fresh_secret(), b)}",
    lambda b: f"v2=abc,{v1(SECRET, b)}",
])
def test_any_of_several_signatures(header: Any) -> None:
    body = event()
    SOURCE.verify(inbound(body, {"x-pagerduty-signature": header(body)}), NOW)


def test_any_of_several_secrets() -> None:
    body = event()
    ROTATING.verify(inbound(body, {"x-pagerduty-signature": v1(OLD_SECRET, body)}), NOW)


def test_ping_is_a_handshake() -> None:
    body = event("pagey.ping")
    delivery = SOURCE.verify(inbound(body, {"x-pagerduty-signature": v1(SECRET, body)}), NOW)
    assert delivery.reply == {"message": "pong"}


@pytest.mark.parametrize("header, body, error, message", [
    (DROP, event(), MissingSignature, "missing X-PagerDuty-Signature"),
    ("v1=", event(), BadSignature, "no well-formed v1="),
    ("v0=" + "0" * 64, event(), BadSignature, "no well-formed v1="),
    ("v1=" + "0" * 64, event(), BadSignature, "no secret matches"),
    (v1(SECRET, event()), event("incident.resolved"), BadSignature, "no secret matches"),
    (v1(fresh_secret(), event()), event(), BadSignature, "no secret matches"),
])
def test_tamper_matrix(header: Any, body: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, {"x-pagerduty-signature": header}), NOW)


def test_event_id_is_required() -> None:
    body = event(ident=DROP)
    with pytest.raises(MalformedRequest, match="event.id"):
        SOURCE.verify(inbound(body, {"x-pagerduty-signature": v1(SECRET, body)}), NOW)


@pytest.mark.parametrize("extra", [
    pytest.param({"x-webhook-id": "forged"}, id="new-webhook-id-header"),
    pytest.param({"authorization": "Token token=abc", "cookie": "a=b"}, id="credentials"),
])
def test_id_is_the_signed_event_id_and_credentials_never_reach_routes(extra: dict[str, str]) -> None:
    # PagerDuty's custom headers (set on the subscription) may carry a credential in Authorization.
    body = event()
    delivery = SOURCE.verify(inbound(body, {"x-pagerduty-signature": v1(SECRET, body), **extra}), NOW)
    assert delivery.delivery_id == "01DEN7U7KQ2N8WMXKDR5QKJ6ZH"
    assert not {"authorization", "cookie", "x-pagerduty-signature"} & set(delivery.headers)
