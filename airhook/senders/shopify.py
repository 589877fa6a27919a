"""Shopify: ``X-Shopify-Hmac-SHA256: <base64>``, HMAC-SHA256 of the raw body keyed with the app's
client secret (or the store's webhook signing secret).

Shopify's newer deliveries (events webhooks) name their headers without the ``X-`` prefix
(``shopify-hmac-sha256``, ``shopify-topic``, ``shopify-event-id``, ...) and for now send both
forms; its own library (``@shopify/shopify-api``, ``lib/webhooks/header-names.ts`` and
``validate.ts``) reads the unprefixed form first, then the ``X-Shopify-*`` one. So does this type.

Only the body is signed: the topic, the webhook and event ids and ``triggered-at`` are not, and
there is no signed timestamp, so a captured delivery can be replayed at any time with any header
values. The delivery id is therefore a hash of the topic and the signed body (see
:func:`ShopifySource.verify`), never the unsigned id header.

https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MalformedRequest, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, decode_base64, hmac_text

#: Each header Shopify sends, unprefixed (read first, as Shopify's library does) then legacy.
SIGNATURE_HEADERS = ("shopify-hmac-sha256", "x-shopify-hmac-sha256")
EVENT_HEADERS = ("shopify-topic", "x-shopify-topic")
#: Kept for routes (they are Shopify's ids) but not used as the delivery id: they are unsigned.
WEBHOOK_ID_HEADERS = ("shopify-webhook-id", "x-shopify-webhook-id")
EVENT_ID_HEADERS = ("shopify-event-id", "x-shopify-event-id")
#: Signature headers: never visible to routes (authorization, cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = SIGNATURE_HEADERS

# Kept for callers that name the legacy header (the CLI's older code paths, tests).
SIGNATURE_HEADER = SIGNATURE_HEADERS[1]
EVENT_HEADER = EVENT_HEADERS[1]
DELIVERY_HEADER = WEBHOOK_ID_HEADERS[1]


def sign(secret: bytes, body: bytes) -> str:
    """The ``Shopify-Hmac-SHA256`` value Shopify would send (for tests and the CLI)."""
    return hmac_text(secret, body, encode="base64")


def first_header(inbound: Inbound, names: Sequence[str]) -> str | None:
    """The value of the first of ``names`` the request carries."""
    for name in names:
        value = inbound.header(name)
        if value is not None:
            return value
    return None


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Raises:
        MissingSignature: no header.
        BadSignature: not a base64 SHA-256 digest, or no secret matches.
    """
    if not header:
        raise MissingSignature("missing Shopify-Hmac-SHA256 (or X-Shopify-Hmac-SHA256) header")
    candidate = decode_base64(header)
    if candidate is None or len(candidate) != 32:
        raise BadSignature("Shopify-Hmac-SHA256 is not a base64 SHA-256 digest")
    if not any_hmac_matches(secrets, body, [candidate], encode="raw"):
        raise BadSignature("no secret matches Shopify-Hmac-SHA256")


def signed_delivery_id(topic: str, body: bytes) -> str:
    """The delivery id: a hash of the topic and the signed body.

    Shopify signs no id and no time, so an id header would let a captured delivery, replayed with
    a fresh id, start a new run each time, forever. Retries carry the same topic and body, so they
    map to the same run; distinct topics with identical bodies (``orders/create`` and
    ``orders/paid`` of one order) stay distinct. Deliveries of one topic with byte-identical
    bodies are the same resource in the same state, and are one run.
    """
    return "sha256-" + hashlib.sha256(topic.encode("utf-8", "surrogatepass") + b"\n" + body).hexdigest()[:32]


@dataclass(frozen=True)
class ShopifySource(SecretSource):
    type: str = "shopify"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no topic header, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_signature(inbound.body, first_header(inbound, SIGNATURE_HEADERS), self.secrets)
        event = first_header(inbound, EVENT_HEADERS)
        if event is None:
            raise MalformedRequest("missing Shopify-Topic header", public="missing Shopify-Topic header")
        return Delivery(source=self.name, event=event,
                        delivery_id=delivery_id(signed_delivery_id(event, inbound.body), inbound.body),
                        body=parse_json_body(inbound),
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> ShopifySource:
    check_keys(raw, ("secrets", "max_body_bytes"), where)
    return ShopifySource(
        name=name,
        secrets=secrets_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    topic = c.draft.event or "orders/create"
    # Shopify's events webhooks send each header twice, unprefixed and X-Shopify-* (its library
    # reads the unprefixed form first): so does this, which exercises both readers.
    values = {"Topic": topic, "Webhook-Id": c.identify(c.fresh("uuid")), "Event-Id": c.random_id("uuid"),
              "API-Version": "2026-10", "Shop-Domain": "example.myshopify.com",
              "Triggered-At": c.iso_now(), "Hmac-SHA256": sign(c.need_key(), c.body.bytes())}
    for name, value in values.items():
        c.headers["Shopify-" + name] = value
        c.headers["X-Shopify-" + name] = value
    # Shopify signs no id: airhook's delivery id is the hash of the topic and the signed body.
    c.delivery_id = signed_delivery_id(topic, c.body.bytes())


SENDER = SenderType(
    type="shopify", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    deadline=4.5,  # Shopify waits 5 s
    examples=(
        Example("order-created", "order-created.json", "orders/create", "orders/create"),
        Example("product-updated", "product-updated.json", "products/update", "products/update"),
    ))
