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


def signed_id(topic: str, body: bytes) -> str:
    # Independently of the module: Shopify signs only the body, so the id is topic + body.
    return "sha256-" + hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()[:32]


def test_sign_matches_an_independent_hmac() -> None:
    assert sign(SECRET.encode(), BODY) == shopify_hmac(SECRET, BODY)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_verified_order(secret: str) -> None:
    delivery = SOURCE.verify(request(signature=shopify_hmac(secret, BODY)), NOW)
    assert (delivery.event, delivery.delivery_id) == ("orders/create", signed_id("orders/create", BODY))
    assert delivery.body["total_price"] == "403.00"


def test_unpadded_base64_is_accepted() -> None:
    SOURCE.verify(request(signature=shopify_hmac(SECRET, BODY).rstrip("=")), NOW)


@pytest.mark.parametrize("signature, body, error, message", [
    (DROP, BODY, MissingSignature, "missing Shopify-Hmac-SHA256"),
    ("", BODY, MissingSignature, "missing Shopify-Hmac-SHA256"),
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
    with pytest.raises(MalformedRequest, match="Shopify-Topic"):
        SOURCE.verify(request(**{"x-shopify-topic": DROP}), NOW)


# Header forms: Shopify's events webhooks send both forms; its library reads the unprefixed one first
# (@shopify/shopify-api lib/webhooks/validate.ts, header-names.ts).
UNPREFIXED = {"shopify-hmac-sha256": None, "shopify-topic": "orders/create", "shopify-event-id": "ev-1",
              "shopify-shop-domain": "example.myshopify.com", "shopify-api-version": "2026-10"}
LEGACY = {"x-shopify-hmac-sha256": None, "x-shopify-topic": "orders/create", "x-shopify-webhook-id": "wh-1",
          "x-shopify-shop-domain": "example.myshopify.com", "x-shopify-api-version": "2026-10"}


def with_signature(headers: dict[str, Any], secret: str = SECRET, body: bytes = BODY) -> dict[str, Any]:
    return {k: (shopify_hmac(secret, body) if v is None else v) for k, v in headers.items()}


@pytest.mark.parametrize("headers", [
    pytest.param(with_signature(UNPREFIXED), id="unprefixed"),
    pytest.param(with_signature(LEGACY), id="legacy"),
    pytest.param({**with_signature(UNPREFIXED), **with_signature(LEGACY)}, id="both"),
    pytest.param({**with_signature(UNPREFIXED), **with_signature(LEGACY, fresh_secret())}, id="unprefixed-wins"),
])
def test_both_header_forms(headers: dict[str, Any]) -> None:
    delivery = SOURCE.verify(inbound(BODY, headers), NOW)
    assert delivery.event == "orders/create"
    assert delivery.delivery_id == signed_id("orders/create", BODY)
    assert not {"shopify-hmac-sha256", "x-shopify-hmac-sha256"} & set(delivery.headers)


def test_unprefixed_bad_signature_is_not_rescued_by_the_legacy_one() -> None:
    # The first form present decides, as in Shopify's library: no trying every header for a match.
    headers = {**with_signature(UNPREFIXED, fresh_secret()), **with_signature(LEGACY)}
    with pytest.raises(BadSignature):
        SOURCE.verify(inbound(BODY, headers), NOW)


@pytest.mark.parametrize("changed", [
    {"x-shopify-webhook-id": "forged-1"}, {"x-shopify-webhook-id": "forged-2"},
    {"x-shopify-event-id": "forged"}, {"x-shopify-triggered-at": "2030-01-01T00:00:00Z"},
])
def test_replay_with_new_unsigned_ids_is_the_same_delivery(changed: dict[str, str]) -> None:
    # Shopify signs no id and no time: a replay with fresh id headers maps to the same run.
    first = SOURCE.verify(request(), NOW)
    replay = SOURCE.verify(request(**changed), NOW + 86_400)
    assert replay.delivery_id == first.delivery_id


def test_same_body_other_topic_is_another_delivery() -> None:
    create = SOURCE.verify(request(), NOW)
    paid = SOURCE.verify(request(**{"x-shopify-topic": "orders/paid"}), NOW)
    assert create.delivery_id != paid.delivery_id


def test_credentials_never_reach_routes() -> None:
    delivery = SOURCE.verify(request(authorization="Bearer x", cookie="s=1",
                                     **{"proxy-authorization": "Basic y"}), NOW)
    assert not {"authorization", "cookie", "proxy-authorization", "x-shopify-hmac-sha256"} & set(delivery.headers)
    assert delivery.headers["x-shopify-topic"] == "orders/create"
