"""Zendesk: ``X-Zendesk-Webhook-Signature: <base64>``, HMAC-SHA256 of
``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601) followed by the raw body, keyed with the
webhook's signing secret. Zendesk documents no replay window; the usual one applies (5 minutes,
both ways).

https://developer.zendesk.com/documentation/webhooks/verifying/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..body import FORM_TYPE, field_text, flat_form, parse_form, parse_json_body, required_field
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option, tolerance_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, ascii_bytes, decode_base64, hmac_text
from .timestamps import check_window

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
#: Signature headers: never visible to routes (authorization, cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER, TIMESTAMP_HEADER)
#: One per invocation, the same on Zendesk's retries of it. Unsigned.
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"
#: Trigger and automation webhooks carry a body of the user's own making, without ``type``.
DEFAULT_EVENT = "webhook"
#: What an event webhook's ``type`` starts with (``zen:event-type:ticket.created``).
EVENT_TYPE_PREFIX = "zen:event-type:"


def sign(secret: bytes, body: bytes, timestamp: str) -> dict[str, str]:
    """The headers Zendesk would send (for tests and the CLI); ``timestamp`` is ISO 8601."""
    return {SIGNATURE_HEADER: hmac_text(secret, timestamp.encode("ascii") + body, encode="base64"),
            TIMESTAMP_HEADER: timestamp}


def parse_timestamp(value: str | None) -> float:
    """Raises:
        MissingSignature: no timestamp header.
        BadSignature: not an ISO 8601 time with a zone.
    """
    if value is None:
        raise MissingSignature("missing X-Zendesk-Webhook-Signature-Timestamp header")
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadSignature("X-Zendesk-Webhook-Signature-Timestamp is not an ISO 8601 time with a zone")
    return moment.timestamp()


def verify_signature(body: bytes, signature: str | None, timestamp: str | None,
                     secrets: Sequence[bytes], now: float, tolerance: float) -> None:
    """Raises:
        MissingSignature: a header is missing.
        TimestampOutOfWindow: the timestamp is more than ``tolerance`` seconds from ``now``.
        BadSignature: a malformed header, or no secret matches.
    """
    if not signature:
        raise MissingSignature("missing X-Zendesk-Webhook-Signature header")
    check_window(parse_timestamp(timestamp), now, tolerance, "X-Zendesk-Webhook-Signature-Timestamp")
    candidate = decode_base64(signature)
    if candidate is None or len(candidate) != 32:
        raise BadSignature("X-Zendesk-Webhook-Signature is not a base64 SHA-256 digest")
    assert timestamp is not None
    stamp = ascii_bytes(timestamp)
    if stamp is None or not any_hmac_matches(secrets, stamp + body, [candidate], encode="raw"):
        raise BadSignature("no secret matches X-Zendesk-Webhook-Signature")


@dataclass(frozen=True)
class ZendeskSource(SecretSource):
    tolerance: int = 300
    type: str = "zendesk"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """The event is the body's ``type`` (event webhooks: ``zen:event-type:ticket.created``),
        else ``webhook``. The delivery id is an event webhook's signed ``id``; a trigger or
        automation webhook's body is the user's own template (an ``id`` there is a ticket's, the
        same on every update of it), so its id is the invocation id header: unsigned, but one per
        invocation and the same on Zendesk's retries; a replay inside the signed timestamp's window
        with a forged invocation id is a new run (documented in docs/senders.md).

        Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: an over-long id or a bad body (400).
            UnsupportedMediaType: neither JSON nor a form (415): Zendesk can also send XML.
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER),
                         inbound.header(TIMESTAMP_HEADER), self.secrets, now, self.tolerance)
        body = _read(inbound)
        kind = field_text(body, "type")
        ident: str | None
        if kind is not None and kind.startswith(EVENT_TYPE_PREFIX):
            ident = required_field(body, "id")
        else:
            ident = inbound.header(INVOCATION_HEADER)
        return Delivery(source=self.name, event=kind or DEFAULT_EVENT,
                        delivery_id=delivery_id(ident, inbound.body), body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def _read(inbound: Inbound) -> Any:
    """JSON, or a form's fields (a trigger webhook's request format can be either, or XML). A
    trigger webhook may send no body at all (GET, DELETE): that is ``{}``."""
    if not inbound.body.strip():
        return {}
    if inbound.content_type == FORM_TYPE:
        return flat_form(parse_form(inbound.body))
    return parse_json_body(inbound)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> ZendeskSource:
    check_keys(raw, ("secrets", "tolerance", "max_body_bytes"), where)
    return ZendeskSource(
        name=name,
        secrets=secrets_option(raw, where),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    event_webhook = isinstance(c.body.json, dict) and "type" in c.body.json
    if c.draft.event and c.draft.event != DEFAULT_EVENT:
        c.body.set("type", c.draft.event, "event")
        event_webhook = True
    if event_webhook:
        c.body.set("id", c.identify(c.fresh("ulid")), "delivery id")
        c.headers["X-Zendesk-Webhook-Invocation-Id"] = c.random_id("number")
    else:  # a trigger or automation webhook: its body is the user's, the invocation id identifies it
        c.headers["X-Zendesk-Webhook-Invocation-Id"] = c.identify(c.fresh("number"))
    c.headers["X-Zendesk-Webhook-Id"] = c.random_id("ulid")
    c.headers.update(sign(c.need_key(), c.body.bytes(), c.iso_now()))


SENDER = SenderType(
    type="zendesk", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    examples=(
        Example("ticket-created", "ticket-created.json", "an event webhook: zen:event-type:ticket.created"),
        Example("trigger", "trigger.json", "a trigger webhook with a body of your own"),
    ))
