"""Shopify: ``X-Shopify-Hmac-SHA256`` (base64) over the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, MalformedRequest, MissingSignature
from airhook.senders.shopify import sign

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("shopify", secrets=[SECRET, OLD_SECRET])
BODY = json.dumps({"id": 820982911946154508, "email": "jon@example.com", "total_price": "403.00"}).encode()


def shopify_hmac(secret: str, body: bytes) -> str:
    # As Shopify's docs compute it: base64 of the binary HMAC-SHA256 digest.
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def request(body: bytes = BODY, signature: Any = None, **extra: Any):
    return inbound(body, {"x-shopify-hmac-sha256": shopify_hmac(SECRET, body) if signature is None else signature,
                          "x-shopify-topic": "orders/create", "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                          **extra})


def test_sign_matches_an_independent_hmac() -> None:
    assert sign(SECRET.encode(), BODY) == shopify_hmac(SECRET, BODY)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_verified_order(secret: str) -> None:
    delivery = SOURCE.verify(request(signature=shopify_hmac(secret, BODY)), NOW)
    assert (delivery.event, delivery.delivery_id) == ("orders/create", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    assert delivery.body["total_price"] == "403.00"


def test_unpadded_base64_is_accepted() -> None:
    SOURCE.verify(request(signature=shopify_hmac(SECRET, BODY).rstrip("=")), NOW)


@pytest.mark.parametrize("signature, body, error, message", [
    (DROP, BODY, MissingSignature, "missing X-Shopify-Hmac-SHA256"),
    ("", BODY, MissingSignature, "missing X-Shopify-Hmac-SHA256"),
    ("not base64!", BODY, BadSignature, "not a base64 SHA-256"),
    (base64.b64encode(b"x" * 31).decode(), BODY, BadSignature, "not a base64 SHA-256"),
    (hashlib.sha256(BODY).hexdigest(), BODY, BadSignature, "not a base64 SHA-256"),
    (shopify_hmac(fresh_secret(), BODY), BODY, BadSignature, "no secret matches"),
    (shopify_hmac(SECRET, BODY), BODY + b" ", BadSignature, "no secret matches"),
])
def test_tamper_matrix(signature: Any, body: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(request(body, signature), NOW)


def test_topic_is_required() -> None:
    with pytest.raises(MalformedRequest, match="X-Shopify-Topic"):
        SOURCE.verify(request(**{"x-shopify-topic": DROP}), NOW)
