"""Jira Cloud (admin webhooks with a secret): ``X-Hub-Signature: sha256=<hex>``, HMAC-SHA256 of
the raw body keyed with the webhook's secret.

https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..delivery import Delivery, Inbound
from . import DEFAULT_MAX_BODY_BYTES
from .common import (check_keys, delivery_id, hmac_text, int_option, parse_json_body,
                     required_field, routable_headers, secrets_option, verify_prefixed_hex)

SIGNATURE_HEADER = "x-hub-signature"
#: The same on every retry of one delivery.
DELIVERY_HEADER = "x-atlassian-webhook-identifier"
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature`` value the sender would send (for tests and the CLI)."""
    return "sha256=" + hmac_text(secret, body)


@dataclass(frozen=True)
class JiraSource:
    name: str
    secrets: tuple[bytes, ...] = field(repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
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
        max_body_bytes=int_option(raw, "max_body_bytes", DEFAULT_MAX_BODY_BYTES, where),
    )
