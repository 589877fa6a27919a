"""Stripe: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``, HMAC-SHA256 of ``"{t}.{body}"``
keyed with the whole ``whsec_...`` string.

https://docs.stripe.com/webhooks#verify-manually
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import parse_json_body, required_field
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option, tolerance_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, hex_candidate
from .timestamps import check_window, parse_unix_timestamp

SIGNATURE_HEADER = "stripe-signature"
#: Signature headers: never visible to routes (authorization, cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` value Stripe would send (for tests and the CLI)."""
    mac = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def parse_header(header: str) -> tuple[str | None, list[str]]:
    """``(t, [v1 signatures])`` from a ``Stripe-Signature`` value; other schemes (``v0``, test
    mode's extra entries) are ignored, as Stripe's libraries do."""
    timestamp: str | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    return timestamp, signatures


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes], now: float,
                     tolerance: float) -> float:
    """Check ``header`` against the raw ``body``; returns the signed timestamp.

    Raises:
        MissingSignature: no header.
        TimestampOutOfWindow: ``t`` is more than ``tolerance`` seconds from ``now``, either way.
        BadSignature: a malformed header, or no (secret, v1 signature) pair matches.
    """
    if not header:
        raise MissingSignature("missing Stripe-Signature header")
    text, signatures = parse_header(header)
    if text is None:
        raise BadSignature("Stripe-Signature has no t= timestamp")
    timestamp = parse_unix_timestamp(text, "Stripe-Signature t=")
    check_window(timestamp, now, tolerance, "Stripe-Signature timestamp")
    candidates = [c for c in (hex_candidate(s, 32) for s in signatures) if c is not None]
    if not candidates:
        raise BadSignature("Stripe-Signature has no well-formed v1= signature")
    if not any_hmac_matches(secrets, text.encode("ascii") + b"." + body, candidates):
        raise BadSignature("no secret matches any Stripe-Signature v1= signature")
    return timestamp


@dataclass(frozen=True)
class StripeSource(SecretSource):
    tolerance: int = 300
    type: str = "stripe"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: no ``type`` or ``id`` in the event (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets, now,
                         self.tolerance)
        body = parse_json_body(inbound)
        # The event id is the same on every retry of the event: one run per event.
        return Delivery(source=self.name, event=required_field(body, "type"),
                        delivery_id=delivery_id(required_field(body, "id"), inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> StripeSource:
    check_keys(raw, ("secrets", "tolerance", "max_body_bytes"), where)
    return StripeSource(
        name=name,
        secrets=secrets_option(raw, where),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    """The event's ``type`` and ``id`` in the body, signed as Stripe signs (``t=...,v1=...``)."""
    if c.draft.event:
        c.body.set("type", c.draft.event, "event")
    c.body.set("id", c.identify(c.fresh("stripe")), "delivery id")
    c.headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    c.headers["Stripe-Signature"] = sign(c.need_key(), c.body.bytes(), int(c.now))


SENDER = SenderType(
    type="stripe", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    deadline=15.0,  # Stripe waits 15-30 s
    examples=(
        Example("invoice-paid", "invoice-paid.json", "invoice.paid"),
        Example("checkout-completed", "checkout-completed.json", "checkout.session.completed"),
        Example("payment-failed", "payment-failed.json", "payment_intent.payment_failed"),
    ))
