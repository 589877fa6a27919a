"""A generic shared token: ``Authorization: Bearer <token>`` by default, or the token alone in a
configured header. For senders that can only add a static header, and for manual requests
(``curl -H "Authorization: Bearer $TOKEN" ...``).

A token proves only that the sender knows it: nothing binds it to the body and nothing stops a
replay. Prefer a signing type where the sender offers one. Tokens in query strings are not
supported: URLs end up in logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..body import parse_generic_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MissingSignature
from .base import Example, Outgoing, SenderType, SourceBase
from .locators import Locator, locator_option, required_value
from .options import check_keys, header_name_option, max_body_option, secrets_option
from .request import delivery_id, routable_headers
from .signatures import tokens_match

DEFAULT_HEADER = "authorization"
#: Never visible to routes, besides the source's configured token ``header`` (authorization,
#: cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = (DEFAULT_HEADER,)


def presented_token(value: str | None, scheme: str | None, header: str) -> str:
    """The token in a header value, after the scheme (``Bearer``, case-insensitive) if any.

    Raises:
        MissingSignature: no header, or no token after the scheme.
    """
    if value is None:
        raise MissingSignature(f"missing {header} header")
    if scheme is None:
        return value.strip()
    given, _, token = value.strip().partition(" ")
    if given.lower() != scheme.lower() or not token.strip():
        raise MissingSignature(f"{header} is not '{scheme} <token>'")
    return token.strip()


@dataclass(frozen=True)
class TokenSource(SourceBase):
    tokens: tuple[bytes, ...] = field(repr=False)
    event: Locator
    delivery: Locator | None = None
    header: str = DEFAULT_HEADER
    scheme: str | None = "Bearer"
    type: str = "token"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: no token, or a wrong one (401).
            MalformedRequest: no event name, an over-long id, or a bad body (400).
        """
        token = presented_token(inbound.header(self.header), self.scheme, self.header)
        if not tokens_match(self.tokens, token):
            raise BadSignature(f"{self.header} matches no configured token")
        body = parse_generic_body(inbound)
        ident = self.delivery.find(inbound, body) if self.delivery is not None else None
        return Delivery(source=self.name, event=required_value(self.event, inbound, body),
                        delivery_id=delivery_id(ident, inbound.body), body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS + (self.header,)))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> TokenSource:
    check_keys(raw, ("tokens", "header", "scheme", "event", "delivery_id", "max_body_bytes"), where)
    header = header_name_option(raw, "header", where, DEFAULT_HEADER) or DEFAULT_HEADER
    # The scheme defaults to Bearer in Authorization only; `scheme: ""` turns it off there.
    scheme_default = "Bearer" if header == DEFAULT_HEADER else None
    scheme = raw.get("scheme", scheme_default)
    if scheme is not None and not isinstance(scheme, str):
        raise ConfigError(f"{where}.scheme: expected a string such as Bearer")
    event = locator_option(raw, "event", where, default={"value": "manual"})
    assert event is not None
    return TokenSource(
        name=name,
        tokens=secrets_option(raw, where, "tokens"),
        event=event,
        delivery=locator_option(raw, "delivery_id", where),
        header=header,
        scheme=scheme or None,
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    source = c.source
    if c.draft.event:
        c.place(source.event, c.draft.event, "event")
    if source.delivery is not None and source.delivery.kind != "value":
        c.place(source.delivery, c.identify(c.fresh("uuid")), "delivery id")
    token = c.need_key().decode("utf-8")
    c.headers[source.header] = f"{source.scheme} {token}" if source.scheme else token


def signing_key(source: TokenSource, override: str | None) -> bytes:
    return override.encode("utf-8") if override is not None else source.tokens[0]


SENDER = SenderType(
    type="token", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    signing_key=signing_key,
    examples=(
        Example("backfill", "backfill.json", "a manual backfill request"),
        Example("rerun", "rerun.json", "a manual rerun request"),
    ))
