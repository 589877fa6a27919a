"""Pieces every sender uses: option checks, secrets, delivery ids, constant-time compares,
timestamp windows, body fields and the URL a sender signed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

from ..body import FORM_TYPE, JSON_TYPES, parse_json
from ..delivery import Inbound
from ..errors import (BadSignature, ConfigError, MalformedRequest, MissingSignature,
                      TimestampOutOfWindow, UnsupportedMediaType)

#: A delivery id longer than this is refused rather than stored or turned into a run id.
MAX_DELIVERY_ID = 200

#: Replay window for timestamped schemes, in seconds, in both directions.
DEFAULT_TOLERANCE = 300
#: A larger tolerance would make the replay window meaningless.
MAX_TOLERANCE = 24 * 3600

_DIGITS = re.compile(r"[0-9]{1,16}")


def check_keys(raw: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse unknown keys: a typo (``secret:`` for ``secrets:``) must not silently disable a check."""
    unknown = sorted(set(raw) - set(allowed) - {"type", "deadline", "response"})  # shared by every source
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


def int_option(raw: Mapping[str, Any], key: str, default: int, where: str, *, minimum: int = 1,
               maximum: int | None = None) -> int:
    value = raw.get(key, default)
    if (not isinstance(value, int) or isinstance(value, bool) or value < minimum
            or (maximum is not None and value > maximum)):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{where}.{key}: expected an integer {bound}")
    return value


def tolerance_option(raw: Mapping[str, Any], where: str, default: int = DEFAULT_TOLERANCE) -> int:
    """``tolerance:`` in seconds: how far a signed timestamp may be from now, either way."""
    return int_option(raw, "tolerance", default, where, minimum=1, maximum=MAX_TOLERANCE)


def string_option(raw: Mapping[str, Any], key: str, where: str, default: str | None = None,
                  *, choices: Sequence[str] | None = None) -> str | None:
    """An optional non-empty string (one of ``choices`` when given)."""
    value = raw.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: expected a non-empty string")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}.{key}: expected one of {', '.join(choices)}")
    return value


def strings_option(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A required non-empty list of non-empty strings (a single string is a list of one)."""
    value = raw.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key}: expected a non-empty list of strings")
    return tuple(value)


def header_name_option(raw: Mapping[str, Any], key: str, where: str,
                       default: str | None = None) -> str | None:
    """A header name, lower-cased (inbound headers are lower-cased once)."""
    value = string_option(raw, key, where, default)
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value):
        raise ConfigError(f"{where}.{key}: {value!r} is not an HTTP header name")
    return value.lower()


def url_option(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    """An absolute http(s) URL without query or fragment (the query comes from the request)."""
    value = string_option(raw, key, where)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{where}.{key}: expected an http(s) URL without query or fragment, "
                          f"got {value!r}")
    return value


def first_header(inbound: Inbound, names: Iterable[str]) -> str | None:
    """The first of ``names`` the request carries (a sender's id header under its current and its
    former or alternative names, in order of preference)."""
    for name in names:
        value = inbound.header(name)
        if value is not None:
            return value
    return None


def delivery_id(value: str | None, body: bytes) -> str:
    """The sender's delivery id, or a hash of the body when it sent none: a retried identical body
    then maps to the same run, which is what a sender without ids expects. The hash is the last
    resort: two distinct deliveries with the same bytes become one run, so every type passes the
    sender's own id for the delivery wherever the sender sends one (docs/senders.md says per type
    what the hash means when it is used).

    Raises:
        MalformedRequest: the id is longer than MAX_DELIVERY_ID, or not valid Unicode text (a
            lone surrogate from a JSON ``\\ud800`` escape in a body-borne id).
    """
    if value:
        if len(value) > MAX_DELIVERY_ID:
            raise MalformedRequest("delivery id too long", public="delivery id header is too long")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedRequest("delivery id is not valid text", public="delivery id is not valid text") from None
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


# ------------------------------------------------------------------------------- timestamps


def parse_unix_timestamp(value: str | None, header_name: str, *, millis: bool = False) -> float:
    """A signed Unix timestamp (seconds, or milliseconds with ``millis``) from a header.

    Raises:
        MissingSignature: no value (a timestamped scheme without its timestamp is unsigned).
        BadSignature: not plain digits (a sign, a fraction or spaces are refused).
    """
    if value is None:
        raise MissingSignature(f"missing {header_name} header")
    if not _DIGITS.fullmatch(value):
        raise BadSignature(f"{header_name} is not a Unix timestamp")
    seconds = int(value)
    return seconds / 1000 if millis else float(seconds)


def check_window(timestamp: float, now: float, tolerance: float, what: str) -> None:
    """Refuse a timestamp more than ``tolerance`` seconds from ``now`` in **either** direction:
    one from the future is as much a replay risk as an old one (a captured request could be
    replayed until that future time passes).

    Raises:
        TimestampOutOfWindow: naming the direction and the distance.
    """
    age = now - timestamp
    if age > tolerance:
        raise TimestampOutOfWindow(f"{what} is {age:.0f}s old (tolerance {tolerance:.0f}s)")
    if -age > tolerance:
        raise TimestampOutOfWindow(f"{what} is {-age:.0f}s in the future (tolerance {tolerance:.0f}s)")


# ------------------------------------------------------------------------------- bodies


def parse_form(raw: bytes) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body as ``{name: [values]}`` (UTF-8, strict).

    Raises:
        MalformedRequest: not ASCII on the wire, or bad percent-encoding.
    """
    try:
        return parse_qs(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8",
                        errors="strict", max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest(f"invalid form body: {exc}", public="body is not a valid form") from None


def flat_form(fields: Mapping[str, list[str]]) -> dict[str, Any]:
    """A form as routes want it: a field sent once is a string, one sent several times a list."""
    return {name: values[0] if len(values) == 1 else list(values) for name, values in fields.items()}


def parse_json_body(inbound: Inbound) -> Any:
    """The body as JSON; the content type must say JSON.

    Raises:
        UnsupportedMediaType: another content type.
        MalformedRequest: the body does not parse.
    """
    content_type = inbound.content_type
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return parse_json(inbound.body)
    raise UnsupportedMediaType(f"content type {content_type!r}")


def parse_generic_body(inbound: Inbound) -> Any:
    """The body of a generic sender (token, hmac, google-oidc): empty is ``{}``, JSON is parsed, a
    form becomes its fields; anything else (Cloud Scheduler sends ``application/octet-stream`` by
    default) is parsed as JSON when it is JSON and kept as text when it is not.

    Raises:
        MalformedRequest: declared JSON or a form that does not parse, or text that is not UTF-8.
    """
    if not inbound.body.strip():
        return {}
    content_type = inbound.content_type
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return parse_json(inbound.body)
    if content_type == FORM_TYPE:
        return flat_form(parse_form(inbound.body))
    try:
        return parse_json(inbound.body)
    except MalformedRequest:
        pass
    try:
        return inbound.body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("body is neither JSON nor UTF-8 text",
                               public="body is neither JSON nor UTF-8 text") from None


def field_text(document: Any, *path: str) -> str | None:
    """The string (or integer, as text) at ``path`` in nested objects, or None if absent."""
    node = document
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    if isinstance(node, bool):
        return None
    if isinstance(node, int):
        return str(node)
    return node if isinstance(node, str) and node else None


def required_field(document: Any, path: str) -> str:
    """``field_text`` for a dotted ``path`` that the sender always sends.

    Raises:
        MalformedRequest: naming the field.
    """
    value = field_text(document, *path.split("."))
    if value is None:
        raise MalformedRequest(f"body has no string field {path!r}",
                               public=f"body has no string field {path!r}")
    return value


def without_headers(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """``headers`` less those carrying a credential (a shared token, a bearer ID token), so that
    routes cannot copy them into a DAG run's conf."""
    drop = {name.lower() for name in names}
    return {key: value for key, value in headers.items() if key not in drop}


#: Headers that carry a credential whatever the sender type: never visible to routes.
GENERIC_CREDENTIAL_HEADERS: frozenset[str] = frozenset({
    "authorization", "proxy-authorization", "cookie",
})


def routable_headers(headers: Mapping[str, str], credential_headers: Iterable[str] = ()) -> dict[str, str]:
    """The headers routes may read: ``headers`` less :data:`GENERIC_CREDENTIAL_HEADERS` and the
    sender type's own ``credential_headers`` (its signature and token headers). Every sender builds
    its Delivery's headers through this one function, so a new type cannot forget a credential."""
    return without_headers(headers, GENERIC_CREDENTIAL_HEADERS.union(h.lower() for h in credential_headers))


# ------------------------------------------------------------------------------- locators


LocatorKind = Literal["header", "body", "value"]  # a Locator's source: locator_option's keys


@dataclass(frozen=True)
class Locator:
    """Where a configurable value (an event name, a delivery id) comes from: a request header, a
    JMESPath expression over the parsed body, or a constant.

    Config: ``{header: X-Event-Type}``, ``{body: data.type}`` or ``{value: nightly}``.
    """

    kind: LocatorKind
    name: str
    expression: Any = None

    def find(self, inbound: Inbound, body: Any) -> str | None:
        if self.kind == "value":
            return self.name
        if self.kind == "header":
            return inbound.header(self.name)
        try:
            value = self.expression.search(body)
        except Exception:  # a JMESPath type error on an unexpected body is "not there"
            return None
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, (int, float)):
            return str(value)
        return value if isinstance(value, str) and value else None


def locator_option(raw: Mapping[str, Any], key: str, where: str, *,
                   default: Mapping[str, str] | None = None) -> Locator | None:
    """Parse ``key:`` as a Locator (see there); ``default``, written as in the config, when the
    key is absent (None when there is no default either)."""
    value = raw.get(key, default)
    if value is None:
        return None
    kinds = ("header", "body", "value")
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in kinds:
        raise ConfigError(f"{where}.{key}: expected a mapping with exactly one of "
                          f"{', '.join(kinds)}")
    kind, name = next(iter(value.items()))
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.{key}.{kind}: expected a non-empty string")
    if kind == "header":
        return Locator("header", header_name_option(value, "header", f"{where}.{key}") or name)
    if kind == "body":
        from ..expressions import compile_expression  # jmespath: the config has loaded it
        return Locator("body", name, compile_expression(name, f"{where}.{key}.body"))
    return Locator("value", name)


def required_value(locator: Locator, inbound: Inbound, body: Any, what: str = "event name") -> str:
    """What ``locator`` finds, or a 400 naming where it looked.

    Raises:
        MalformedRequest: nothing there.
    """
    value = locator.find(inbound, body)
    if value is None:
        raise MalformedRequest(f"no {what} in {locator.kind} {locator.name!r}",
                               public=f"no {what} in {locator.kind} {locator.name!r}")
    return value


# ------------------------------------------------------------------------------- URLs


def signed_url(inbound: Inbound, public_url: str | None) -> str:
    """The URL a URL-signing sender (Twilio, HubSpot) signed.

    With ``public_url`` (what was pasted into the sender's UI, without query) that URL plus the
    request's query string. Otherwise the URL is rebuilt from the request: behind Cloud Run's or a
    load balancer's front end the function sees ``http://`` and possibly another host, so the
    scheme and host come from ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` when present. A
    configured ``public_url`` is safer: forwarded headers are whatever the client sent.
    """
    query = inbound.query
    if public_url is not None:
        return public_url + ("?" + query if query else "")
    parts = urlsplit(inbound.url) if inbound.url else None
    scheme = _first(inbound.header("x-forwarded-proto")) or (parts.scheme if parts else "") or "https"
    host = (_first(inbound.header("x-forwarded-host")) or inbound.header("host")
            or (parts.netloc if parts else ""))
    path = parts.path if parts and parts.path else inbound.path
    if parts is not None and not query:
        query = parts.query
    return f"{scheme}://{host}{path}" + ("?" + query if query else "")


def _first(value: str | None) -> str | None:
    """The first entry of a comma-separated forwarded header (the client-most proxy)."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None
