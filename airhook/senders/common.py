"""Pieces every sender uses: option checks, secrets, delivery ids, constant-time compares."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ConfigError, MalformedRequest

#: A delivery id longer than this is refused rather than stored or turned into a run id.
MAX_DELIVERY_ID = 200


def check_keys(raw: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse unknown keys: a typo (``secret:`` for ``secrets:``) must not silently disable a check."""
    unknown = sorted(set(raw) - set(allowed) - {"type"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def secrets_option(raw: Mapping[str, Any], where: str, key: str = "secrets") -> tuple[bytes, ...]:
    """The source's secrets as bytes. Empty strings are dropped (``${PREVIOUS:-}`` between
    rotations), but at least one must remain: an empty secret would verify anyone's HMAC."""
    value = raw.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: expected a list of strings")
    secrets = tuple(v.encode("utf-8") for v in value if v)
    if not secrets:
        raise ConfigError(f"{where}.{key}: at least one non-empty secret is required")
    return secrets


def int_option(raw: Mapping[str, Any], key: str, default: int, where: str, *, minimum: int = 1) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where}.{key}: expected an integer >= {minimum}")
    return value


def delivery_id(value: str | None, body: bytes) -> str:
    """The sender's delivery id, or a hash of the body when it sent none: a retried identical body
    then maps to the same run, which is what a sender without ids expects.

    Raises:
        MalformedRequest: the id is longer than MAX_DELIVERY_ID.
    """
    if value:
        if len(value) > MAX_DELIVERY_ID:
            raise MalformedRequest("delivery id too long", public="delivery id header is too long")
        return value
    return "sha256-" + hashlib.sha256(body).hexdigest()[:32]


def ascii_bytes(value: str) -> bytes | None:
    """A header value as bytes for ``hmac.compare_digest``, or None if it is not ASCII (headers
    are attacker-controlled and compare_digest raises TypeError on non-ASCII str)."""
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        return None


def any_hmac_matches(secrets: Sequence[bytes], message: bytes, candidates: Sequence[bytes],
                     digest: str = "sha256", encode: str = "hex") -> bool:
    """True if any (secret, candidate signature) pair matches. Every pair is compared, in
    constant time, so timing reveals neither which secret nor which candidate matched."""
    matched = False
    for secret in secrets:
        mac = hmac.new(secret, message, digest)
        if encode == "hex":
            expected = mac.hexdigest().encode("ascii")
        else:
            import base64
            expected = base64.b64encode(mac.digest())
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    return matched
