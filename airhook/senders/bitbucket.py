"""Bitbucket (Cloud, and Data Center/Server): ``X-Hub-Signature: sha256=<hex>``, HMAC-SHA256 of
the raw body keyed with the webhook's secret.

https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..body import parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import MalformedRequest
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option
from .request import delivery_id, first_header, routable_headers
from .signatures import hmac_text, verify_prefixed_hex

SIGNATURE_HEADER = "x-hub-signature"
EVENT_HEADER = "x-event-key"
#: Cloud sends X-Request-UUID, Data Center X-Request-Id.
DELIVERY_HEADERS = ("x-request-uuid", "x-request-id")
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature`` value the sender would send (for tests and the CLI)."""
    return "sha256=" + hmac_text(secret, body)


@dataclass(frozen=True)
class BitbucketSource(SecretSource):
    type: str = "bitbucket"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no ``X-Event-Key``, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        verify_prefixed_hex(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets,
                            header_name="X-Hub-Signature")
        event = inbound.header(EVENT_HEADER)
        if event is None:
            raise MalformedRequest("missing X-Event-Key header", public="missing X-Event-Key header")
        ident = first_header(inbound, DELIVERY_HEADERS)
        return Delivery(source=self.name, event=event, delivery_id=delivery_id(ident, inbound.body),
                        body=parse_json_body(inbound),
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> BitbucketSource:
    check_keys(raw, ("secrets", "max_body_bytes"), where)
    return BitbucketSource(
        name=name,
        secrets=secrets_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    c.headers.update({"X-Event-Key": c.draft.event or "repo:push", "X-Request-UUID": c.identify(c.fresh("uuid")),
                      "X-Hook-UUID": c.random_id("uuid"), "X-Attempt-Number": "1",
                      "User-Agent": "Bitbucket-Webhooks/2.0"})
    c.headers["X-Hub-Signature"] = sign(c.need_key(), c.body.bytes())


SENDER = SenderType(
    type="bitbucket", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    examples=(
        Example("push", "push.json", "a push to main", "repo:push"),
        Example("pull-request-merged", "pull-request-merged.json", "a pull request merged", "pullrequest:fulfilled"),
    ))
