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
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from ..body import FORM_TYPE, flat_form, parse_form, parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MalformedRequest, MissingSignature
from .base import Example, Outgoing, SenderType, SourceBase
from .locators import Locator, locator_option, required_value
from .options import check_keys, max_body_option, secrets_option, url_option
from .request import delivery_id, routable_headers, signed_url
from .signatures import any_hmac_matches, decode_base64, hmac_text, tokens_match

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
#: Twilio's id for a request, the same on its retries. Unsigned: kept for routes, not the run id.
DELIVERY_HEADER = "i-twilio-idempotency-token"
#: Signature headers: never visible to routes (authorization, cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER,)
#: Default ``max_body_bytes``: a form is parsed before it is verified, so its size bounds what an
#: unsigned request costs. Twilio's callbacks are a few KiB (an SMS body is at most 1,600
#: characters); 1 MiB leaves room for Event Streams and Studio JSON.
MAX_BODY_BYTES = 1024 * 1024
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


def signature_candidate(signature: str | None, digest: str) -> bytes:
    """The decoded ``X-Twilio-Signature``: checked before anything is parsed.

    Raises:
        MissingSignature: no signature.
        BadSignature: not a base64 digest of the algorithm's size.
    """
    if not signature:
        raise MissingSignature("missing X-Twilio-Signature header")
    candidate = decode_base64(signature)
    if candidate is None or len(candidate) != _DIGEST_SIZE[digest]:
        raise BadSignature(f"X-Twilio-Signature is not a base64 {digest} digest")
    return candidate


def signed_params(body: bytes, is_json: bool) -> Mapping[str, Sequence[str]]:
    """The parameters Twilio signed: none for a JSON body (its hash is in the URL), else the form.

    The form is parsed before it is verified (Twilio signs parameters, not bytes), by the bounded
    parser (:func:`airhook.body.parse_form`): a few copies of the body, C-speed passes. A body that
    is not a well-formed form cannot carry a valid signature, so it is refused as unverified (401),
    not as malformed: an unsigned request learns nothing about its body.

    Raises:
        BadSignature: not a form Twilio could have signed.
    """
    if is_json or not body:
        return {}
    try:
        return parse_form(body)
    except MalformedRequest:
        raise BadSignature("the body is not a form Twilio could have signed") from None


def verify_signature(url: str, body: bytes, is_json: bool, signature: str | None,
                     tokens: Sequence[bytes], digest: str = "sha1") -> Mapping[str, Sequence[str]]:
    """Check a Twilio request: form parameters from ``body``, or (``is_json``) the body's hash in
    the URL's ``bodySHA256``. Returns the verified form parameters (empty for JSON).

    Raises:
        MissingSignature: no signature.
        BadSignature: malformed, no token matches, or the body's hash is not the signed one.
    """
    candidate = signature_candidate(signature, digest)
    hashes: list[str] = []
    if is_json:
        hashes = parse_qs(urlsplit(url).query).get("bodySHA256", [])
        if len(hashes) != 1:
            raise BadSignature("a JSON body needs exactly one bodySHA256 in the signed URL")
    params = signed_params(body, is_json)
    matched = False
    for variant in url_variants(url):
        matched |= any_hmac_matches(tokens, signed_string(variant, params), [candidate], digest, "raw")
    if not matched:
        raise BadSignature("no token matches X-Twilio-Signature (check public_url if the function "
                           "is behind a proxy)")
    if is_json and not tokens_match([hashlib.sha256(body).hexdigest().encode("ascii")],
                                    hashes[0].lower()):
        raise BadSignature("the body does not match the signed bodySHA256")
    return params


def signed_delivery_id(query: str, params: Mapping[str, Sequence[str]], body: bytes, is_json: bool) -> str:
    """The delivery id: a hash of what Twilio signed (the query, then the parameters or the JSON
    body whose hash the query carries).

    Twilio signs neither ``I-Twilio-Idempotency-Token`` nor a time, so that id would let a captured
    request, replayed with a fresh token, start a new run each time, forever. Retries carry the
    same URL and parameters, so they map to the same run; distinct callbacks differ in what is
    signed (``MessageStatus``, ``CallStatus``, ``SequenceNumber``, ``Timestamp``...). The form is
    hashed in its signed (sorted) form: reordering the fields keeps the signature valid, so it must
    not make another id.
    """
    digest = hashlib.sha256(query.encode("utf-8", "surrogatepass") + b"\n")
    if is_json:
        digest.update(body)
    else:
        canonical = sorted((name, sorted(set(values))) for name, values in params.items())
        digest.update(json.dumps(canonical, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return "sha256-" + digest.hexdigest()[:32]


@dataclass(frozen=True)
class TwilioSource(SourceBase):
    tokens: tuple[bytes, ...] = field(repr=False)
    event: Locator
    public_url: str | None = None
    algorithms: frozenset[str] = frozenset({"sha1", "sha256"})
    max_body_bytes: int = field(default=MAX_BODY_BYTES, kw_only=True)
    type: str = "twilio"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed, or a body no signature could cover (401).
            MalformedRequest: no event name, or a bad JSON body (400).
            UnsupportedMediaType: JSON expected but not sent (415).
        """
        digest = algorithm_of(inbound.header(SETTINGS_HEADER))
        if digest not in self.algorithms:
            raise BadSignature(f"signature algorithm {digest} is not allowed for this source")
        is_json = inbound.content_type == "application/json"
        params = verify_signature(signed_url(inbound, self.public_url), inbound.body, is_json,
                                  inbound.header(SIGNATURE_HEADER), self.tokens, digest)
        body = parse_json_body(inbound) if is_json else flat_form(params)
        ident = signed_delivery_id(inbound.query, params, inbound.body, is_json)
        return Delivery(source=self.name, event=required_value(self.event, inbound, body),
                        delivery_id=delivery_id(ident, inbound.body), body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


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
        max_body_bytes=max_body_option(raw, where, MAX_BODY_BYTES),
    )


def sign_delivery(c: Outgoing) -> None:
    if c.draft.event:
        c.place(c.source.event, c.draft.event, "event")
    c.headers["I-Twilio-Idempotency-Token"] = c.identify(c.fresh("uuid"))
    c.headers["User-Agent"] = "TwilioProxy/1.1"
    body = c.body.bytes()
    params: dict[str, list[str]] = {}
    if c.body.kind == "json":
        # A JSON body is not signed itself: its hash travels in the signed URL.
        c.query = urlencode({"bodySHA256": hashlib.sha256(body).hexdigest()})
    else:
        for name, value in c.body.form:
            params.setdefault(name, []).append(value)
    signed = c.with_query(c.source.public_url or c.url)
    c.headers["X-Twilio-Signature"] = sign(c.need_key(), signed, params)
    # Twilio signs no id: airhook's delivery id is the hash of the signed query and parameters.
    c.delivery_id = signed_delivery_id(c.query, params, body, c.body.kind == "json")


def signing_key(source: TwilioSource, override: str | None) -> bytes:
    return override.encode("utf-8") if override is not None else source.tokens[0]


SENDER = SenderType(
    type="twilio", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    signing_key=signing_key, deadline=13.0,
    examples=(
        Example("sms-received", "sms-received.txt", "an incoming SMS (a form)", content_type=FORM_TYPE),
        Example("message-status", "message-status.txt", "a message status callback (a form)", content_type=FORM_TYPE),
    ))
