"""PagerDuty (v3 webhooks): ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]``, HMAC-SHA256 of the
raw body keyed with the subscription's secret (several signatures while a secret rotates).

https://developer.pagerduty.com/docs/webhooks-overview#verifying-signatures
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import parse_json_body, required_field
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, hex_candidate, hmac_text

SIGNATURE_HEADER = "x-pagerduty-signature"
#: Signature headers: never visible to routes (authorization, cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)
#: Sent when a subscription is created or tested: answered, never routed.
PING_EVENT = "pagey.ping"


def sign(secrets: Sequence[bytes], body: bytes) -> str:
    """The ``X-PagerDuty-Signature`` value PagerDuty would send, one ``v1=`` per secret."""
    return ",".join("v1=" + hmac_text(secret, body) for secret in secrets)


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Raises:
        MissingSignature: no header.
        BadSignature: no well-formed ``v1=`` entry, or no (secret, signature) pair matches.
    """
    if not header:
        raise MissingSignature("missing X-PagerDuty-Signature header")
    candidates = []
    for entry in header.split(","):
        version, _, value = entry.strip().partition("=")
        if version == "v1":
            candidate = hex_candidate(value, 32)
            if candidate is not None:
                candidates.append(candidate)
    if not candidates:
        raise BadSignature("X-PagerDuty-Signature has no well-formed v1= signature")
    if not any_hmac_matches(secrets, body, candidates):
        raise BadSignature("no secret matches any X-PagerDuty-Signature v1= signature")


@dataclass(frozen=True)
class PagerDutySource(SecretSource):
    type: str = "pagerduty"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no ``event.event_type`` or ``event.id``, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets)
        body = parse_json_body(inbound)
        event = required_field(body, "event.event_type")
        reply = {"message": "pong"} if event == PING_EVENT else None
        return Delivery(source=self.name, event=event,
                        delivery_id=delivery_id(required_field(body, "event.id"), inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS),
                        reply=reply)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> PagerDutySource:
    check_keys(raw, ("secrets", "max_body_bytes"), where)
    return PagerDutySource(
        name=name,
        secrets=secrets_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    if c.draft.event:
        c.body.set("event.event_type", c.draft.event, "event")
    c.body.set("event.id", c.identify(c.fresh("ulid")), "delivery id")
    c.headers["User-Agent"] = "PagerDuty-Webhook/V3.0"
    c.headers["X-Webhook-Id"] = c.random_id("uuid")
    c.headers["X-PagerDuty-Signature"] = sign([c.need_key()], c.body.bytes())


SENDER = SenderType(
    type="pagerduty", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    examples=(
        Example("incident-triggered", "incident-triggered.json", "incident.triggered"),
        Example("incident-resolved", "incident-resolved.json", "incident.resolved"),
    ))
