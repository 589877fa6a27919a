"""Linear: ``Linear-Signature`` (hex) over the raw body; ``webhookTimestamp`` (ms) in the body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, ConfigError, MalformedRequest, MissingSignature, TimestampOutOfWindow

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("linear", secrets=[SECRET, OLD_SECRET])


def body(**changes: Any) -> bytes:
    document = {"action": "create", "type": "Issue", "data": {"id": "2174add1", "title": "Deploy"},
                "url": "https://linear.app/x/issue/ENG-1", "webhookTimestamp": NOW * 1000, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not DROP}).encode()


def request(raw: bytes, *, secret: str = SECRET, signature: Any = None, delivery: Any = "234d1a4e-b617-4388-90fe-adc3633d6b72"):
    value = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest() if signature is None else signature
    return inbound(raw, {"linear-signature": value, "linear-delivery": delivery, "linear-event": "Issue"})


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_verified_issue(secret: str) -> None:
    delivery = SOURCE.verify(request(body(), secret=secret), NOW)
    assert (delivery.event, delivery.delivery_id) == ("Issue.create", "234d1a4e-b617-4388-90fe-adc3633d6b72")


def test_event_without_action_and_hash_without_delivery_header() -> None:
    delivery = SOURCE.verify(request(body(action=DROP), delivery=DROP), NOW)
    assert delivery.event == "Issue" and delivery.delivery_id.startswith("sha256-")


@pytest.mark.parametrize("raw, signature, now, error, message", [
    (body(), DROP, NOW, MissingSignature, "missing Linear-Signature"),
    (body(), "0" * 63, NOW, BadSignature, "64-digit"),
    (body(), "0" * 64, NOW, BadSignature, "no secret matches"),
    (body(), "sha256=" + "0" * 64, NOW, BadSignature, "64-digit"),
    (body(), None, NOW + 61, TimestampOutOfWindow, "61s old"),
    (body(), None, NOW - 61, TimestampOutOfWindow, "61s in the future"),
    (body(webhookTimestamp=DROP), None, NOW, TimestampOutOfWindow, "no integer webhookTimestamp"),
    (body(webhookTimestamp=str(NOW * 1000)), None, NOW, TimestampOutOfWindow, "no integer webhookTimestamp"),
    (body(webhookTimestamp=NOW), None, NOW, TimestampOutOfWindow, "old"),  # seconds, not ms
])
def test_tamper_matrix(raw: bytes, signature: Any, now: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(request(raw, signature=signature), now)


def test_a_tampered_body_fails_before_its_timestamp_is_read() -> None:
    signed = request(body())
    forged = inbound(body(webhookTimestamp=(NOW + 3600) * 1000), dict(signed.headers))
    with pytest.raises(BadSignature):
        SOURCE.verify(forged, NOW + 3600)


def test_window_default_is_a_minute_and_configurable() -> None:
    SOURCE.verify(request(body()), NOW + 60)
    source("linear", secrets=[SECRET], tolerance=300).verify(request(body()), NOW + 300)


def test_type_is_required() -> None:
    with pytest.raises(MalformedRequest, match="'type'"):
        SOURCE.verify(request(body(type=DROP)), NOW)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        source("linear", secrets=[SECRET], tolerence=60)
