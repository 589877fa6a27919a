"""Shopify: ``X-Shopify-Hmac-SHA256: <base64>``, HMAC-SHA256 of the raw body keyed with the app's
client secret (or the store's webhook signing secret).

https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MalformedRequest, MissingSignature
from . import DEFAULT_MAX_BODY_BYTES
from .common import (any_hmac_matches, check_keys, decode_base64, delivery_id, hmac_text,
                     int_option, parse_json_body, secrets_option)

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
EVENT_HEADER = "x-shopify-topic"
DELIVERY_HEADER = "x-shopify-webhook-id"


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Shopify-Hmac-SHA256`` value Shopify would send (for tests and the CLI)."""
    return hmac_text(secret, body, encode="base64")


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Raises:
        MissingSignature: no header.
        BadSignature: not a base64 SHA-256 digest, or no secret matches.
    """
    if not header:
        raise MissingSignature("missing X-Shopify-Hmac-SHA256 header")
    candidate = decode_base64(header)
    if candidate is None or len(candidate) != 32:
        raise BadSignature("X-Shopify-Hmac-SHA256 is not a base64 SHA-256 digest")
    if not any_hmac_matches(secrets, body, [candidate], encode="raw"):
        raise BadSignature("no secret matches X-Shopify-Hmac-SHA256")


@dataclass(frozen=True)
class ShopifySource:
    name: str
    secrets: tuple[bytes, ...] = field(repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    type: str = "shopify"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no ``X-Shopify-Topic``, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets)
        event = inbound.header(EVENT_HEADER)
        if event is None:
            raise MalformedRequest("missing X-Shopify-Topic header", public="missing X-Shopify-Topic header")
        return Delivery(source=self.name, event=event,
                        delivery_id=delivery_id(inbound.header(DELIVERY_HEADER), inbound.body),
                        body=parse_json_body(inbound), headers=inbound.headers)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> ShopifySource:
    check_keys(raw, ("secrets", "max_body_bytes"), where)
    return ShopifySource(
        name=name,
        secrets=secrets_option(raw, where),
        max_body_bytes=int_option(raw, "max_body_bytes", DEFAULT_MAX_BODY_BYTES, where),
    )
