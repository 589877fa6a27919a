"""Standard Webhooks (Svix, Clerk, Resend, GitLab signing tokens, ...): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64> [v1,<base64> ...]``, HMAC-SHA256 of
``"{id}.{timestamp}.{body}"`` keyed with the base64-decoded part of the secret after ``whsec_``.

Svix sends the same headers named ``svix-*``; this type accepts either (the ``svix`` type is an
adapter that reads only ``svix-*``).

https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..body import parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MissingSignature
from .base import Example, Outgoing, SenderType, SigningError, SourceBase
from .locators import Locator, locator_option, required_value
from .options import check_keys, max_body_option, tolerance_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, ascii_bytes, decode_base64
from .timestamps import check_window, parse_unix_timestamp

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class HeaderNames:
    id: str
    timestamp: str
    signature: str


STANDARD = HeaderNames("webhook-id", "webhook-timestamp", "webhook-signature")
SVIX = HeaderNames("svix-id", "svix-timestamp", "svix-signature")

#: Signature headers of both header sets: never visible to routes (authorization, cookies... are
#: dropped for every type). The ids stay: they are signed and routes may use them.
CREDENTIAL_HEADERS: tuple[str, ...] = (STANDARD.signature, STANDARD.timestamp, SVIX.signature,
                                       SVIX.timestamp)


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``webhook-signature`` entry, ``v1,<base64>``, for the decoded ``key`` (tests, CLI)."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def decode_secret(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional), or None."""
    if secret.startswith(SECRET_PREFIX):
        secret = secret[len(SECRET_PREFIX):]
    return decode_base64(secret) or None


def secrets_option(raw: Mapping[str, Any], where: str, key: str = "secrets") -> tuple[bytes, ...]:
    """Decoded keys; a secret that is not ``whsec_<base64>`` is a config error (which does not
    repeat the secret). Empty entries are dropped (rotation placeholders), one must remain."""
    value = raw.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: expected a list of whsec_... strings")
    keys: list[bytes] = []
    for index, secret in enumerate(value):
        if not secret:
            continue
        decoded = decode_secret(secret)
        if decoded is None:
            raise ConfigError(f"{where}.{key}[{index}]: not a whsec_<base64> secret")
        keys.append(decoded)
    if not keys:
        raise ConfigError(f"{where}.{key}: at least one non-empty secret is required")
    return tuple(keys)


def signatures_of(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` value. Other versions (``v1a`` is
    asymmetric) and malformed entries are skipped, not fatal: a sender may add schemes."""
    found: list[bytes] = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version == "v1":
            digest = decode_base64(encoded)
            if digest is not None and len(digest) == 32:
                found.append(digest)
    return found


def verify_signature(body: bytes, msg_id: str | None, timestamp: str | None,
                     signature: str | None, keys: Sequence[bytes], now: float, tolerance: float,
                     names: HeaderNames = STANDARD) -> None:
    """Check the three headers against the raw ``body``; the timestamp first.

    Raises:
        MissingSignature: a header is missing.
        TimestampOutOfWindow: the timestamp is more than ``tolerance`` seconds from ``now``.
        BadSignature: a malformed header, or no (key, v1 signature) pair matches.
    """
    if not msg_id or not signature:
        missing = names.id if not msg_id else names.signature
        raise MissingSignature(f"missing {missing} header")
    seconds = parse_unix_timestamp(timestamp, names.timestamp)
    check_window(seconds, now, tolerance, names.timestamp)
    ident = ascii_bytes(msg_id)
    if ident is None:
        raise BadSignature(f"{names.id} is not ASCII")
    candidates = signatures_of(signature)
    if not candidates:
        raise BadSignature(f"{names.signature} has no well-formed v1 signature")
    assert timestamp is not None
    message = ident + b"." + timestamp.encode("ascii") + b"." + body
    if not any_hmac_matches(keys, message, candidates, encode="raw"):
        raise BadSignature(f"no secret matches any {names.signature} v1 signature")


def headers_of(inbound: Inbound, accepted: Sequence[HeaderNames]) -> tuple[HeaderNames, str | None,
                                                                            str | None, str | None]:
    """The first accepted header set whose signature header is present (else the first set), and
    its id, timestamp and signature values."""
    names = next((n for n in accepted if inbound.header(n.signature)), accepted[0])
    return (names, inbound.header(names.id), inbound.header(names.timestamp),
            inbound.header(names.signature))


@dataclass(frozen=True)
class StandardWebhooksSource(SourceBase):
    keys: tuple[bytes, ...] = field(repr=False)
    event: Locator
    tolerance: int = 300
    accepted: tuple[HeaderNames, ...] = (STANDARD, SVIX)
    type: str = "standard-webhooks"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: no event name, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        names, msg_id, timestamp, signature = headers_of(inbound, self.accepted)
        verify_signature(inbound.body, msg_id, timestamp, signature, self.keys, now,
                         self.tolerance, names)
        body = parse_json_body(inbound)
        # The message id is the same on every retry: one run per message.
        return Delivery(source=self.name, event=required_value(self.event, inbound, body),
                        delivery_id=delivery_id(msg_id, inbound.body), body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def build(name: str, raw: Mapping[str, Any], where: str, kind: str,
          accepted: tuple[HeaderNames, ...]) -> StandardWebhooksSource:
    """A source of ``kind`` that reads the ``accepted`` header sets (shared with ``svix``)."""
    check_keys(raw, ("secrets", "event", "tolerance", "max_body_bytes"), where)
    event = locator_option(raw, "event", where, default={"body": "type"})
    assert event is not None
    return StandardWebhooksSource(
        name=name,
        keys=secrets_option(raw, where),
        event=event,
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
        accepted=accepted,
        type=kind,
    )


def from_config(name: str, raw: Mapping[str, Any], where: str) -> StandardWebhooksSource:
    return build(name, raw, where, "standard-webhooks", (STANDARD, SVIX))


def sign_delivery(c: Outgoing) -> None:
    """The three headers (``svix-*`` for the svix type), signed with the first key."""
    names = SVIX if c.source.type == "svix" else STANDARD
    if c.draft.event:
        c.place(c.source.event, c.draft.event, "event")
    msg_id = c.identify(c.fresh("svix"))
    c.headers.update({names.id: msg_id, names.timestamp: str(int(c.now))})
    c.headers[names.signature] = sign(c.need_key(), msg_id, int(c.now), c.body.bytes())


def decoded_override(override: str) -> bytes:
    """``--secret-file`` for a whsec_ type: its decoded key.

    Raises:
        SigningError: not a whsec_<base64> secret.
    """
    decoded = decode_secret(override)
    if decoded is None:
        raise SigningError("--secret-file: expected a whsec_<base64> secret for this source")
    return decoded


def signing_key(source: StandardWebhooksSource, override: str | None) -> bytes:
    return decoded_override(override) if override is not None else source.keys[0]


SENDER = SenderType(
    type="standard-webhooks", from_config=from_config, credential_headers=CREDENTIAL_HEADERS,
    sign=sign_delivery, signing_key=signing_key,
    deadline=12.0,  # senders following the spec wait 15-30 s
    examples=(
        Example("user-created", "user-created.json", "Clerk's user.created"),
        Example("email-delivered", "email-delivered.json", "Resend's email.delivered"),
    ))
