"""HubSpot: the v3 signature, and on request the legacy v1 and v2 ones.

- **v3** (every request HubSpot sends today): ``X-HubSpot-Signature-v3: <base64>``, HMAC-SHA256 of
  ``method + URI + body + X-HubSpot-Request-Timestamp`` (milliseconds) keyed with the app's client
  secret; 5 minutes either way.
- **v2** (workflow webhook actions, CRM cards): ``X-HubSpot-Signature: <hex>`` with
  ``X-HubSpot-Signature-Version: v2``, plain SHA-256 of ``secret + method + URI + body``.
- **v1** (legacy apps' webhook subscriptions): the same headers with ``v1``, SHA-256 of
  ``secret + body``.

v1 and v2 carry no timestamp (a captured request replays forever) and are a keyed hash, not an
HMAC, so a source accepts them only when ``signature_versions`` lists them.

The URI is the full URL HubSpot called (v3: with a few percent-escapes decoded as HubSpot does).
Behind Cloud Run's front end the function does not see that URL as such: configure ``public_url``
(the target URL entered in HubSpot), or it is rebuilt from ``X-Forwarded-Proto``/``-Host``.

https://developers.hubspot.com/docs/api/webhooks/validating-requests (checked 2026-11-30);
hubspot-api-client 12.0.0 ``hubspot.utils.signature.Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import field_text, parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option, tolerance_option, url_option
from .request import delivery_id, routable_headers, signed_url
from .signatures import any_hmac_matches, decode_base64, hex_candidate, hmac_text
from .timestamps import check_window, parse_unix_timestamp

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
#: v1 and v2: the signature, and which of the two it is.
LEGACY_SIGNATURE_HEADER = "x-hubspot-signature"
VERSION_HEADER = "x-hubspot-signature-version"
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER, LEGACY_SIGNATURE_HEADER)
VERSIONS = ("v3", "v2", "v1")

# HubSpot decodes exactly these escapes in the URI before signing.
_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
            "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


def canonical_uri(url: str) -> str:
    """``url`` with the escapes HubSpot decodes before signing decoded."""
    return _ESCAPE.sub(lambda m: _DECODED[m.group(0).upper()], url)


def message(method: str, uri: str, body: bytes, timestamp: str) -> bytes:
    # One join: ``a + body + b`` would hold two copies of the body at once.
    return b"".join((method.encode("ascii"), canonical_uri(uri).encode("utf-8"), body, timestamp.encode("ascii")))


def sign(secret: bytes, method: str, uri: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers HubSpot would send (for tests and the CLI); ``timestamp`` in milliseconds."""
    return {SIGNATURE_HEADER: hmac_text(secret, message(method, uri, body, str(timestamp)), encode="base64"),
            TIMESTAMP_HEADER: str(timestamp)}


def verify_signature(method: str, uri: str, body: bytes, signature: str | None,
                     timestamp: str | None, secrets: Sequence[bytes], now: float,
                     tolerance: float) -> None:
    """Raises:
        MissingSignature: a header is missing.
        TimestampOutOfWindow: the timestamp is more than ``tolerance`` seconds from ``now``.
        BadSignature: a malformed header, or no secret matches.
    """
    if not signature:
        raise MissingSignature("missing X-HubSpot-Signature-v3 header")
    seconds = parse_unix_timestamp(timestamp, "X-HubSpot-Request-Timestamp", millis=True)
    check_window(seconds, now, tolerance, "X-HubSpot-Request-Timestamp")
    candidate = decode_base64(signature)
    if candidate is None or len(candidate) != 32:
        raise BadSignature("X-HubSpot-Signature-v3 is not a base64 SHA-256 digest")
    assert timestamp is not None
    if not any_hmac_matches(secrets, message(method, uri, body, timestamp), [candidate], encode="raw"):
        raise BadSignature("no secret matches X-HubSpot-Signature-v3 (check public_url if the "
                           "function is behind a proxy)")


def legacy_digest(secret: bytes, version: str, method: str, uri: str, body: bytes) -> str:
    """The v1 or v2 ``X-HubSpot-Signature`` (hex SHA-256 of the secret and the request)."""
    digest = hashlib.sha256(secret)  # fed in parts: no copy of the body
    if version == "v2":
        digest.update(method.encode("ascii") + uri.encode("utf-8"))
    digest.update(body)
    return digest.hexdigest()


def sign_legacy(secret: bytes, version: str, method: str, uri: str, body: bytes) -> dict[str, str]:
    """The v1/v2 headers HubSpot would send (for tests and the CLI)."""
    return {LEGACY_SIGNATURE_HEADER: legacy_digest(secret, version, method, uri, body),
            VERSION_HEADER: version}


def verify_legacy(version: str, method: str, uri: str, body: bytes, signature: str | None,
                  secrets: Sequence[bytes]) -> None:
    """A v1 or v2 signature. The URI is compared as sent (HubSpot decodes no escapes for v2).

    Raises:
        MissingSignature: no ``X-HubSpot-Signature``.
        BadSignature: not a hex SHA-256 digest, or no secret matches.
    """
    if not signature:
        raise MissingSignature("missing X-HubSpot-Signature header")
    candidate = hex_candidate(signature, 32)
    if candidate is None:
        raise BadSignature("X-HubSpot-Signature is not a hex SHA-256 digest")
    matched = False
    for secret in secrets:  # every secret, so timing does not tell which matched
        expected = legacy_digest(secret, version, method, uri, body).encode("ascii")
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise BadSignature(f"no secret matches X-HubSpot-Signature ({version})")


def event_and_id(body: Any) -> tuple[str, str | None]:
    """HubSpot batches events in a JSON array (up to 100). One event, or a batch of one
    subscription type, is named by its ``subscriptionType``; a mixed batch is ``batch``. A single
    event is identified by its ``eventId``; a batch whose events all carry one by those ids
    (``events-`` and a hash of them in order), which are signed and the same when HubSpot resends
    that batch; only a body without ids falls back to the body hash."""
    events = body if isinstance(body, list) else [body]
    kinds = {kind for kind in (field_text(e, "subscriptionType") for e in events) if kind is not None}
    event = next(iter(kinds)) if len(kinds) == 1 else ("batch" if kinds else "webhook")
    ids = [field_text(e, "eventId") for e in events]
    if len(events) == 1 or not all(ids):
        return event, ids[0] if len(events) == 1 else None
    joined = "\n".join(i for i in ids if i is not None).encode("utf-8")
    return event, "events-" + hashlib.sha256(joined).hexdigest()[:32]


@dataclass(frozen=True)
class HubSpotSource(SecretSource):
    public_url: str | None = None
    versions: tuple[str, ...] = ("v3",)
    tolerance: int = 300
    type: str = "hubspot"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: an over-long id or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        url = signed_url(inbound, self.public_url)
        legacy = inbound.header(VERSION_HEADER)
        # v3 whenever it is enabled and sent (HubSpot sends it on every request), else an enabled
        # legacy version; a request carrying neither is checked as v3 when v3 is enabled (and so
        # refused for what it lacks).
        use_v3 = "v3" in self.versions and (inbound.header(SIGNATURE_HEADER) is not None
                                            or legacy not in self.versions)
        if not use_v3 and (legacy == "v3" or legacy not in self.versions):
            raise MissingSignature(f"no X-HubSpot-Signature of an enabled version ({', '.join(self.versions)})")
        if use_v3:
            verify_signature(inbound.method, url, inbound.body, inbound.header(SIGNATURE_HEADER),
                             inbound.header(TIMESTAMP_HEADER), self.secrets, now, self.tolerance)
        else:
            assert legacy is not None
            verify_legacy(legacy, inbound.method, url, inbound.body,
                          inbound.header(LEGACY_SIGNATURE_HEADER), self.secrets)
        body = parse_json_body(inbound)
        event, ident = event_and_id(body)
        return Delivery(source=self.name, event=event, delivery_id=delivery_id(ident, inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> HubSpotSource:
    check_keys(raw, ("secrets", "public_url", "signature_versions", "tolerance", "max_body_bytes"), where)
    versions = raw.get("signature_versions", ["v3"])
    if isinstance(versions, str):
        versions = [versions]
    if (not isinstance(versions, list) or not versions
            or not all(isinstance(v, str) and v in VERSIONS for v in versions)):
        raise ConfigError(f"{where}.signature_versions: expected a non-empty list of {', '.join(VERSIONS)}")
    return HubSpotSource(
        name=name,
        secrets=secrets_option(raw, where),
        public_url=url_option(raw, "public_url", where),
        versions=tuple(dict.fromkeys(versions)),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    events = c.body.json
    if isinstance(events, dict):
        events = [events]
    if isinstance(events, list) and all(isinstance(e, dict) for e in events):
        events = [dict(e) for e in events]
        if c.draft.event:
            for event in events:
                event["subscriptionType"] = c.draft.event
        if len(events) == 1:
            given = c.draft.delivery_id or c.random_id("number")
            events[0]["eventId"] = int(given) if given.isdigit() else given
            events[0]["occurredAt"] = int(c.now * 1000)
            c.identify(given)
        if events != c.body.json:
            c.body.set_json(events)
    c.headers["User-Agent"] = "HubSpot Connect 2.0 (http://dev.hubspot.com/)"
    uri = c.with_query(c.source.public_url or c.url)
    body = c.body.bytes()
    # HubSpot sends v3 on every request, and the legacy v1/v2 signature beside it.
    legacy = [v for v in c.source.versions if v != "v3"]
    if legacy:
        c.headers.update(sign_legacy(c.need_key(), legacy[0], "POST", uri, body))
    c.headers.update(sign(c.need_key(), "POST", uri, body, int(c.now * 1000)))


SENDER = SenderType(
    type="hubspot", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    deadline=4.5,
    examples=(
        Example("contact-created", "contact-created.json", "contact.creation"),
        Example("deal-stage-changed", "deal-stage-changed.json", "deal.propertyChange (dealstage)"),
    ))
