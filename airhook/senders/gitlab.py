"""GitLab: the hook's secret token in ``X-Gitlab-Token`` (compared in constant time), or, with a
signing token, the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). A source may accept either, as configured.

https://docs.gitlab.com/user/project/integrations/webhooks/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MalformedRequest, MissingSignature
from . import DEFAULT_MAX_BODY_BYTES
from . import standard_webhooks as sw
from .common import (check_keys, delivery_id, field_text, int_option, parse_json_body,
                     secrets_option, tokens_match, tolerance_option, without_headers)

TOKEN_HEADER = "x-gitlab-token"
EVENT_HEADER = "x-gitlab-event"
#: Stable across GitLab's retries of one delivery, in order of preference.
DELIVERY_HEADERS = ("idempotency-key", "webhook-id", "x-gitlab-event-uuid")


def verify_token(header: str | None, tokens: tuple[bytes, ...]) -> None:
    """Raises:
        MissingSignature: no ``X-Gitlab-Token``.
        BadSignature: it is none of ``tokens``.
    """
    if header is None:
        raise MissingSignature("missing X-Gitlab-Token header")
    if not tokens_match(tokens, header):
        raise BadSignature("X-Gitlab-Token matches no configured token")


@dataclass(frozen=True)
class GitLabSource:
    name: str
    tokens: tuple[bytes, ...] = field(repr=False, default=())
    signing_keys: tuple[bytes, ...] = field(repr=False, default=())
    tolerance: int = 300
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    type: str = "gitlab"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """A signed request (``webhook-signature`` present) is checked against the signing
        tokens; otherwise ``X-Gitlab-Token`` against the secret tokens.

        Raises:
            VerificationError: no accepted credential, or a wrong one (401).
            MalformedRequest: no event name, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        signed = inbound.header(sw.STANDARD.signature) is not None
        if self.signing_keys and (signed or not self.tokens):
            _, msg_id, timestamp, signature = sw.headers_of(inbound, (sw.STANDARD,))
            sw.verify_signature(inbound.body, msg_id, timestamp, signature, self.signing_keys,
                                now, self.tolerance)
        else:
            verify_token(inbound.header(TOKEN_HEADER), self.tokens)
        body = parse_json_body(inbound)
        event = (inbound.header(EVENT_HEADER) or field_text(body, "object_kind")
                 or field_text(body, "event_name"))
        if event is None:
            raise MalformedRequest("missing X-Gitlab-Event header", public="missing X-Gitlab-Event header")
        ident = next((v for v in map(inbound.header, DELIVERY_HEADERS) if v is not None), None)
        return Delivery(source=self.name, event=event, delivery_id=delivery_id(ident, inbound.body),
                        body=body, headers=without_headers(inbound.headers, [TOKEN_HEADER]))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> GitLabSource:
    check_keys(raw, ("tokens", "signing_tokens", "tolerance", "max_body_bytes"), where)
    if raw.get("tokens") is None and raw.get("signing_tokens") is None:
        raise ConfigError(f"{where}: set tokens (X-Gitlab-Token), signing_tokens (whsec_...), or both")
    return GitLabSource(
        name=name,
        tokens=secrets_option(raw, where, "tokens") if raw.get("tokens") is not None else (),
        signing_keys=(sw.secrets_option(raw, where, "signing_tokens")
                      if raw.get("signing_tokens") is not None else ()),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=int_option(raw, "max_body_bytes", DEFAULT_MAX_BODY_BYTES, where),
    )
