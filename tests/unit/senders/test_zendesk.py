"""Zendesk: base64 HMAC-SHA256 over the ISO timestamp header followed by the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airhook.errors import BadSignature, MissingSignature, TimestampOutOfWindow
from airhook.senders.zendesk import sign

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("zendesk", secrets=[SECRET, OLD_SECRET])
ISO_NOW = datetime.fromtimestamp(NOW, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
BODY = json.dumps({"type": "zen:event-type:ticket.created", "id": "cbe4028c-7239-495d-b020-f22348516046",
                   "detail": {"id": "35436"}}).encode()


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


def request(body: bytes = BODY, *, secret: str = SECRET, timestamp: str = ISO_NOW, signature: Any = None, **extra: Any):
    value = zendesk_signature(secret, timestamp, body) if signature is None else signature
    return inbound(body, {"x-zendesk-webhook-signature": value,
                          "x-zendesk-webhook-signature-timestamp": timestamp, **extra})


def test_sign_matches_an_independent_hmac() -> None:
    assert sign(SECRET.encode(), BODY, ISO_NOW)["x-zendesk-webhook-signature"] == zendesk_signature(SECRET, ISO_NOW, BODY)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_verified_event_webhook(secret: str) -> None:
    delivery = SOURCE.verify(request(secret=secret), NOW)
    assert (delivery.event, delivery.delivery_id) == ("zen:event-type:ticket.created", "cbe4028c-7239-495d-b020-f22348516046")


def test_trigger_webhook_with_a_custom_body() -> None:
    body = b'{"ticket": "35436", "status": "solved"}'
    delivery = SOURCE.verify(request(body, **{"x-zendesk-webhook-invocation-id": "inv-77"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("webhook", "inv-77")


def test_timestamp_with_an_offset_is_accepted() -> None:
    SOURCE.verify(request(timestamp="2023-11-14T23:13:20+01:00"), NOW)  # the same instant


@pytest.mark.parametrize("changes, now, error, message", [
    ({"signature": DROP}, NOW, MissingSignature, "missing X-Zendesk-Webhook-Signature header"),
    ({"timestamp": DROP}, NOW, MissingSignature, "Timestamp header"),
    ({"timestamp": "2023-11-14 22:13:20"}, NOW, BadSignature, "with a zone"),
    ({"timestamp": "yesterday"}, NOW, BadSignature, "ISO 8601"),
    ({"signature": "!!"}, NOW, BadSignature, "not a base64 SHA-256"),
    ({"signature": zendesk_signature(SECRET, "2023-11-14T22:13:21Z", BODY)}, NOW, BadSignature, "no secret matches"),
    ({"secret": fresh_secret()}, NOW, BadSignature, "no secret matches"),
    ({}, NOW + 301, TimestampOutOfWindow, "301s old"),
    ({}, NOW - 301, TimestampOutOfWindow, "301s in the future"),
])
def test_tamper_matrix(changes: dict[str, Any], now: int, error: type, message: str) -> None:
    if changes.get("timestamp") is DROP:
        request_ = request()
        request_ = inbound(BODY, {k: v for k, v in request_.headers.items() if "timestamp" not in k})
    elif changes.get("signature") is DROP:
        request_ = inbound(BODY, {"x-zendesk-webhook-signature-timestamp": ISO_NOW})
    else:
        request_ = request(**changes)
    with pytest.raises(error, match=message):
        SOURCE.verify(request_, now)


def test_tampered_body_fails() -> None:
    signed = request()
    with pytest.raises(BadSignature):
        SOURCE.verify(inbound(BODY + b" ", dict(signed.headers)), NOW)


# ----------------------------------------------------------------- ids, bodies and credentials


@pytest.mark.parametrize("body, headers, expected", [
    # An event webhook's id is in the signed body: a forged invocation id changes nothing.
    pytest.param(BODY, {"x-zendesk-webhook-invocation-id": "forged"}, "cbe4028c-7239-495d-b020-f22348516046",
                 id="event-webhook-signed-id"),
    # A trigger body's "id" is the user's (a ticket id, the same on every update): not the delivery.
    pytest.param(b'{"id": "35436", "status": "solved"}', {"x-zendesk-webhook-invocation-id": "inv-1"}, "inv-1",
                 id="trigger-id-is-not-the-delivery"),
    pytest.param(b'{"type": "custom", "id": "35436"}', {"x-zendesk-webhook-invocation-id": "inv-2"}, "inv-2",
                 id="trigger-type-without-zen-prefix"),
])
def test_delivery_id(body: bytes, headers: dict[str, str], expected: str) -> None:
    assert SOURCE.verify(request(body, **headers), NOW).delivery_id == expected


def test_event_webhook_without_id_is_malformed() -> None:
    from airhook.errors import MalformedRequest
    with pytest.raises(MalformedRequest, match="'id'"):
        SOURCE.verify(request(b'{"type": "zen:event-type:ticket.created"}'), NOW)


@pytest.mark.parametrize("body, content_type, expected", [
    pytest.param(b"ticket=35436&status=solved", "application/x-www-form-urlencoded",
                 {"ticket": "35436", "status": "solved"}, id="form"),
    pytest.param(b"", "application/json", {}, id="empty"),
])
def test_trigger_request_formats(body: bytes, content_type: str, expected: Any) -> None:
    signed = inbound(body, {"x-zendesk-webhook-signature": zendesk_signature(SECRET, ISO_NOW, body),
                            "x-zendesk-webhook-signature-timestamp": ISO_NOW,
                            "x-zendesk-webhook-invocation-id": "inv-3"}, content_type=content_type)
    assert SOURCE.verify(signed, NOW).body == expected


def test_credentials_never_reach_routes() -> None:
    # Zendesk's endpoint authentication (bearer token, basic auth) arrives as Authorization.
    delivery = SOURCE.verify(request(authorization="Bearer zd-token", cookie="a=b"), NOW)
    assert not {"authorization", "cookie", "x-zendesk-webhook-signature",
                "x-zendesk-webhook-signature-timestamp"} & set(delivery.headers)
