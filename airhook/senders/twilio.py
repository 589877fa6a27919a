"""Twilio: ``X-Twilio-Signature: <base64>``, HMAC-SHA1 (keyed with the account's auth token) of the
full URL Twilio called followed by the POST parameters sorted by name, each name then its value.
A JSON body is not in the signed string: the URL carries ``bodySHA256=<hex>`` of it instead.
Twilio's shared-key signing (``X-Twilio-Webhooks-Signature-Settings: key=...,algorithm=
HMAC_SHA256``) uses HMAC-SHA256 the same way.

Behind Cloud Run's front end the function does not see the URL Twilio called: configure
``public_url`` (the URL entered in Twilio's console, without query), or it is rebuilt from
``X-Forwarded-Proto``/``-Host``. Twilio is inconsistent about an explicit default port, so the URL
is tried with and without it, as Twilio's own libraries do.

https://www.twilio.com/docs/usage/webhooks/webhooks-security
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MissingSignature
from . import DEFAULT_MAX_BODY_BYTES
from .common import (Locator, any_hmac_matches, check_keys, decode_base64, delivery_id, flat_form,
                     hmac_text, int_option, locator_option, parse_form, parse_json_body,
                     required_value, secrets_option, signed_url, tokens_match, url_option)

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
DELIVERY_HEADER = "i-twilio-idempotency-token"
ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
_DIGEST_SIZE = {"sha1": 20, "sha256": 32}


def signed_string(url: str, params: Mapping[str, Sequence[str]]) -> bytes:
    """What Twilio signs: the URL, then for each parameter name in order each of its (sorted,
    distinct) values as ``name + value``, as Twilio's request validators build it."""
    text = url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))
    return text.encode("utf-8")


def sign(token: bytes, url: str, params: Mapping[str, Sequence[str]], digest: str = "sha1") -> str:
    """The ``X-Twilio-Signature`` value Twilio would send (for tests and the CLI)."""
    return hmac_text(token, signed_string(url, params), digest, encode="base64")


def url_variants(url: str) -> list[str]:
    """``url`` as is, without its port, and with its default port made explicit."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = (parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else "") + host
    without = urlunsplit(parts._replace(netloc=netloc))
    default = 443 if parts.scheme == "https" else 80
    with_port = urlunsplit(parts._replace(netloc=f"{netloc}:{parts.port or default}"))
    return list(dict.fromkeys([url, without, with_port]))


def algorithm_of(settings: str | None) -> str:
    """The digest ``X-Twilio-Webhooks-Signature-Settings`` names (none: the auth token's SHA-1).

    Raises:
        BadSignature: an algorithm airhook does not know.
    """
    for part in (settings or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            digest = ALGORITHMS.get(value.strip().upper())
            if digest is None:
                raise BadSignature("X-Twilio-Webhooks-Signature-Settings names an unknown algorithm")
            return digest
    return "sha1"


def verify_signature(url: str, body: bytes, is_json: bool, signature: str | None,
                     tokens: Sequence[bytes], digest: str = "sha1") -> None:
    """Check a Twilio request: form parameters from ``body``, or (``is_json``) the body's hash in
    the URL's ``bodySHA256``.

    Raises:
        MissingSignature: no signature.
        BadSignature: malformed, no token matches, or the body's hash is not the signed one.
    """
    if not signature:
        raise MissingSignature("missing X-Twilio-Signature header")
    candidate = decode_base64(signature)
    if candidate is None or len(candidate) != _DIGEST_SIZE[digest]:
        raise BadSignature(f"X-Twilio-Signature is not a base64 {digest} digest")
    if is_json:
        params: Mapping[str, Sequence[str]] = {}
        hashes = parse_qs(urlsplit(url).query).get("bodySHA256", [])
        if len(hashes) != 1:
            raise BadSignature("a JSON body needs exactly one bodySHA256 in the signed URL")
    else:
        params = parse_form(body) if body else {}
    matched = False
    for variant in url_variants(url):
        matched |= any_hmac_matches(tokens, signed_string(variant, params), [candidate], digest, "raw")
    if not matched:
        raise BadSignature("no token matches X-Twilio-Signature (check public_url if the function "
                           "is behind a proxy)")
    if is_json and not tokens_match([hashlib.sha256(body).hexdigest().encode("ascii")],
                                    hashes[0].lower()):
        raise BadSignature("the body does not match the signed bodySHA256")


@dataclass(frozen=True)
class TwilioSource:
    name: str
    tokens: tuple[bytes, ...] = field(repr=False)
    event: Locator
    public_url: str | None = None
    algorithms: frozenset[str] = frozenset({"sha1", "sha256"})
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    type: str = "twilio"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no event name, an over-long id, or a bad body (400).
            UnsupportedMediaType: JSON expected but not sent (415).
        """
        digest = algorithm_of(inbound.header(SETTINGS_HEADER))
        if digest not in self.algorithms:
            raise BadSignature(f"signature algorithm {digest} is not allowed for this source")
        is_json = inbound.content_type == "application/json"
        verify_signature(signed_url(inbound, self.public_url), inbound.body, is_json,
                         inbound.header(SIGNATURE_HEADER), self.tokens, digest)
        body = parse_json_body(inbound) if is_json else flat_form(parse_form(inbound.body))
        return Delivery(source=self.name, event=required_value(self.event, inbound, body),
                        delivery_id=delivery_id(inbound.header(DELIVERY_HEADER), inbound.body),
                        body=body, headers=inbound.headers)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> TwilioSource:
    check_keys(raw, ("secrets", "public_url", "event", "algorithms", "max_body_bytes"), where)
    algorithms = raw.get("algorithms", ["sha1", "sha256"])
    if (not isinstance(algorithms, list) or not algorithms
            or not all(a in _DIGEST_SIZE for a in algorithms)):
        raise ConfigError(f"{where}.algorithms: expected a list of sha1, sha256")
    event = locator_option(raw, "event", where, default={"value": "webhook"})
    assert event is not None
    return TwilioSource(
        name=name,
        tokens=secrets_option(raw, where),
        event=event,
        public_url=url_option(raw, "public_url", where),
        algorithms=frozenset(algorithms),
        max_body_bytes=int_option(raw, "max_body_bytes", DEFAULT_MAX_BODY_BYTES, where),
    )
