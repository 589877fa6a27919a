"""Comparing credentials: HMACs against every (secret, signature) pair in constant time, shared
tokens hashed before the compare, and strict decoding of hex and base64 signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from ..errors import BadSignature, MissingSignature


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
    constant time, so timing reveals neither which secret nor which candidate matched.

    ``encode`` says what the candidates are: ``hex`` (lower-case digits), ``base64`` (standard
    alphabet, padded) or ``raw`` (the digest bytes, e.g. from :func:`decode_base64`).
    """
    matched = False
    for secret in secrets:
        mac = hmac.new(secret, message, digest)
        if encode == "hex":
            expected = mac.hexdigest().encode("ascii")
        elif encode == "base64":
            expected = base64.b64encode(mac.digest())
        else:
            expected = mac.digest()
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def hmac_text(secret: bytes, message: bytes, digest: str = "sha256", encode: str = "hex") -> str:
    """An HMAC as a sender writes it, ``hex`` or ``base64`` (for ``sign()`` helpers)."""
    mac = hmac.new(secret, message, digest)
    return mac.hexdigest() if encode == "hex" else base64.b64encode(mac.digest()).decode("ascii")


def tokens_match(tokens: Sequence[bytes], candidate: str | None) -> bool:
    """True if ``candidate`` equals any of ``tokens``. Both sides are hashed first, so the compare
    is on equal-length bytes and its time reveals neither a token's length nor which matched."""
    if candidate is None:
        return False
    try:
        presented = hashlib.sha256(candidate.encode("utf-8")).digest()
    except UnicodeEncodeError:  # a lone surrogate cannot be anyone's token
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(hashlib.sha256(token).digest(), presented)
    return matched


def decode_base64(value: str) -> bytes | None:
    """Strictly decode standard base64 (padding optional), or None: a signature that is not
    base64 is malformed, and lenient decoding would let many strings stand for one digest."""
    text = value.strip()
    if not text or not text.isascii():
        return None
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def hex_candidate(value: str, digest_size: int) -> bytes | None:
    """A hex signature as lower-case ASCII bytes if it has the digest's length, else None."""
    candidate = ascii_bytes(value.strip().lower())
    if candidate is None or len(candidate) != 2 * digest_size:
        return None
    if not all(c in b"0123456789abcdef" for c in candidate):
        return None
    return candidate


def verify_prefixed_hex(message: bytes, header: str | None, secrets: Sequence[bytes], *,
                        header_name: str, prefix: str = "sha256=", digest: str = "sha256") -> None:
    """The ``X-Hub-Signature: sha256=<hex>`` family (Bitbucket, Jira): one prefixed hex HMAC of
    the raw body.

    Raises:
        MissingSignature: no header.
        BadSignature: a malformed header, or no secret matches.
    """
    if not header:
        raise MissingSignature(f"missing {header_name} header")
    if not header.startswith(prefix):
        raise BadSignature(f"{header_name} does not start with {prefix}")
    candidate = hex_candidate(header[len(prefix):], hashlib.new(digest).digest_size)
    if candidate is None:
        raise BadSignature(f"{header_name} is not a {digest} hex digest")
    if not any_hmac_matches(secrets, message, [candidate], digest):
        raise BadSignature(f"no secret matches {header_name}")

