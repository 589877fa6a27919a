"""Linear: ``Linear-Signature: <hex>``, HMAC-SHA256 of the raw body keyed with the webhook's
signing secret; the replay window comes from ``webhookTimestamp`` (milliseconds) in the body.

The timestamp is inside the signed body, so here (unlike header-timestamp schemes) the HMAC is
checked first: the body is never parsed before it is verified. The ``Linear-Event`` and
``Linear-Timestamp`` headers are not signed, so the event and the window come from the body only
(Linear's SDK prefers the timestamp header; a replayer could set it). ``Linear-Delivery`` is not
signed either: see docs/senders.md for what a replay inside the window does.

https://linear.app/developers/webhooks#securing-webhooks
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import field_text, parse_json_body, required_field
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MissingSignature, TimestampOutOfWindow
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option, tolerance_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, hex_candidate, hmac_text
from .timestamps import check_window

SIGNATURE_HEADER = "linear-signature"
DELIVERY_HEADER = "linear-delivery"
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)
#: Linear's own SDK allows one minute.
DEFAULT_TOLERANCE = 60


def sign(secret: bytes, body: bytes) -> str:
    """The ``Linear-Signature`` value Linear would send (for tests and the CLI)."""
    return hmac_text(secret, body)


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Raises:
        MissingSignature: no header.
        BadSignature: not a hex SHA-256 digest, or no secret matches.
    """
    if not header:
        raise MissingSignature("missing Linear-Signature header")
    candidate = hex_candidate(header, 32)
    if candidate is None:
        raise BadSignature("Linear-Signature is not a 64-digit hex digest")
    if not any_hmac_matches(secrets, body, [candidate]):
        raise BadSignature("no secret matches Linear-Signature")


def check_timestamp(body: Any, now: float, tolerance: float) -> None:
    """Raises:
        TimestampOutOfWindow: ``webhookTimestamp`` missing, or more than ``tolerance`` from now.
    """
    stamp = body.get("webhookTimestamp") if isinstance(body, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise TimestampOutOfWindow("body has no integer webhookTimestamp")
    check_window(stamp / 1000, now, tolerance, "webhookTimestamp")


@dataclass(frozen=True)
class LinearSource(SecretSource):
    tolerance: int = DEFAULT_TOLERANCE
    type: str = "linear"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """The event is ``<type>.<action>`` (``Issue.create``), or ``<type>`` without an action.

        Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: no ``type``, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets)
        body = parse_json_body(inbound)
        check_timestamp(body, now, self.tolerance)
        kind, action = required_field(body, "type"), field_text(body, "action")
        return Delivery(source=self.name, event=f"{kind}.{action}" if action else kind,
                        delivery_id=delivery_id(inbound.header(DELIVERY_HEADER), inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> LinearSource:
    check_keys(raw, ("secrets", "tolerance", "max_body_bytes"), where)
    return LinearSource(
        name=name,
        secrets=secrets_option(raw, where),
        tolerance=tolerance_option(raw, where, DEFAULT_TOLERANCE),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    if c.draft.event:
        kind, _, action = c.draft.event.rpartition(".")
        c.body.set("type", kind or action, "event")
        if kind:
            c.body.set("action", action, "event")
    # The replay window is the body's own timestamp: Linear sets it when it sends.
    c.body.set("webhookTimestamp", int(c.now * 1000), "timestamp")
    c.headers["Linear-Delivery"] = c.identify(c.fresh("uuid"))
    kind = c.body.get("type")
    if isinstance(kind, str):
        c.headers["Linear-Event"] = kind
    c.headers["User-Agent"] = "Linear-Webhook"
    c.headers["Linear-Signature"] = sign(c.need_key(), c.body.bytes())


SENDER = SenderType(
    type="linear", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    examples=(
        Example("issue-created", "issue-created.json", "Issue.create"),
        Example("comment-created", "comment-created.json", "Comment.create"),
    ))
