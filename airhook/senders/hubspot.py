"""HubSpot (v3 signatures): ``X-HubSpot-Signature-v3: <base64>``, HMAC-SHA256 of
``method + URI + body + X-HubSpot-Request-Timestamp`` (milliseconds) keyed with the app's client
secret; 5 minutes either way.

The URI is the full URL HubSpot called, with a few percent-escapes decoded as HubSpot does. Behind
Cloud Run's front end the function does not see that URL as such: configure ``public_url`` (the
target URL entered in HubSpot), or it is rebuilt from ``X-Forwarded-Proto``/``-Host``.

https://developers.hubspot.com/docs/api/webhooks/validating-requests
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MissingSignature
from . import DEFAULT_MAX_BODY_BYTES
from .common import (any_hmac_matches, check_keys, check_window, decode_base64, delivery_id,
                     field_text, hmac_text, int_option, parse_json_body, parse_unix_timestamp,
                     secrets_option, signed_url, tolerance_option, url_option)

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"

# HubSpot decodes exactly these escapes in the URI before signing.
_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
            "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


def canonical_uri(url: str) -> str:
    """``url`` with the escapes HubSpot decodes before signing decoded."""
    return _ESCAPE.sub(lambda m: _DECODED[m.group(0).upper()], url)


def message(method: str, uri: str, body: bytes, timestamp: str) -> bytes:
    return method.encode("ascii") + canonical_uri(uri).encode("utf-8") + body + timestamp.encode("ascii")


def sign(secret: bytes, method: str, uri: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers HubSpot would send (for tests and the CLI); ``timestamp`` in milliseconds."""
    return {SIGNATURE_HEADER: hmac_text(secret, message(method, uri, body, str(timestamp)), encode="base64"),
            TIMESTAMP_HEADER: str(timestamp)}


def verify_signature(method: str, uri: str, body: bytes, signature: str | None,
                     timestamp: str | None, secrets: Sequence[bytes], now: float,
                     tolerance: float) -> None:
    """Raises:
        MissingSignature: a header is missing.
        TimestampOutOfWindow: the timestamp is more than ``tolerance`` seconds from ``now``.
        BadSignature: a malformed header, or no secret matches.
    """
    if not signature:
        raise MissingSignature("missing X-HubSpot-Signature-v3 header")
    seconds = parse_unix_timestamp(timestamp, "X-HubSpot-Request-Timestamp", millis=True)
    check_window(seconds, now, tolerance, "X-HubSpot-Request-Timestamp")
    candidate = decode_base64(signature)
    if candidate is None or len(candidate) != 32:
        raise BadSignature("X-HubSpot-Signature-v3 is not a base64 SHA-256 digest")
    assert timestamp is not None
    if not any_hmac_matches(secrets, message(method, uri, body, timestamp), [candidate], encode="raw"):
        raise BadSignature("no secret matches X-HubSpot-Signature-v3 (check public_url if the "
                           "function is behind a proxy)")


def event_and_id(body: Any) -> tuple[str, str | None]:
    """HubSpot batches events in a JSON array (up to 100). One event, or a batch of one
    subscription type, is named by its ``subscriptionType``; a mixed batch is ``batch``. Only a
    single event's ``eventId`` identifies the delivery; a batch is identified by its hash."""
    events = body if isinstance(body, list) else [body]
    kinds = {kind for kind in (field_text(e, "subscriptionType") for e in events) if kind is not None}
    event = next(iter(kinds)) if len(kinds) == 1 else ("batch" if kinds else "webhook")
    ident = field_text(events[0], "eventId") if len(events) == 1 else None
    return event, ident


@dataclass(frozen=True)
class HubSpotSource:
    name: str
    secrets: tuple[bytes, ...] = field(repr=False)
    public_url: str | None = None
    tolerance: int = 300
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    type: str = "hubspot"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: an over-long id or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_signature(inbound.method, signed_url(inbound, self.public_url), inbound.body,
                         inbound.header(SIGNATURE_HEADER), inbound.header(TIMESTAMP_HEADER),
                         self.secrets, now, self.tolerance)
        body = parse_json_body(inbound)
        event, ident = event_and_id(body)
        return Delivery(source=self.name, event=event, delivery_id=delivery_id(ident, inbound.body),
                        body=body, headers=inbound.headers)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> HubSpotSource:
    check_keys(raw, ("secrets", "public_url", "tolerance", "max_body_bytes"), where)
    return HubSpotSource(
        name=name,
        secrets=secrets_option(raw, where),
        public_url=url_option(raw, "public_url", where),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=int_option(raw, "max_body_bytes", DEFAULT_MAX_BODY_BYTES, where),
    )
