"""Jira Cloud (admin webhooks with a secret): ``X-Hub-Signature: sha256=<hex>``, HMAC-SHA256 of
the raw body keyed with the webhook's secret.

https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..body import parse_json_body, required_field
from ..delivery import Delivery, Inbound
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option
from .request import delivery_id, routable_headers
from .signatures import hmac_text, verify_prefixed_hex

SIGNATURE_HEADER = "x-hub-signature"
#: The same on every retry of one delivery.
DELIVERY_HEADER = "x-atlassian-webhook-identifier"
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature`` value the sender would send (for tests and the CLI)."""
    return "sha256=" + hmac_text(secret, body)


@dataclass(frozen=True)
class JiraSource(SecretSource):
    type: str = "jira"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no ``webhookEvent``, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_prefixed_hex(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets,
                            header_name="X-Hub-Signature")
        body = parse_json_body(inbound)
        return Delivery(source=self.name, event=required_field(body, "webhookEvent"),
                        delivery_id=delivery_id(inbound.header(DELIVERY_HEADER), inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> JiraSource:
    check_keys(raw, ("secrets", "max_body_bytes"), where)
    return JiraSource(
        name=name,
        secrets=secrets_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    if c.draft.event:
        c.body.set("webhookEvent", c.draft.event, "event")
    if isinstance(c.body.json, dict) and "timestamp" in c.body.json:
        c.body.set("timestamp", int(c.now * 1000), "timestamp")
    c.headers["X-Atlassian-Webhook-Identifier"] = c.identify(c.fresh("uuid"))
    c.headers["User-Agent"] = "Atlassian Webhook HTTP Client"
    c.headers["X-Hub-Signature"] = sign(c.need_key(), c.body.bytes())


SENDER = SenderType(
    type="jira", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    examples=(
        Example("issue-created", "issue-created.json", "jira:issue_created"),
        Example("issue-approved", "issue-approved.json", "jira:issue_updated, status to Approved"),
    ))
