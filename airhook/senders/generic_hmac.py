"""A generic HMAC sender, for tools with no type of their own: the signature header, digest,
encoding, optional prefix, optional timestamp header and the template of the signed content are
all configured.

Example (a sender that signs ``"{timestamp}.{body}"`` into ``X-Signature: sha256=<hex>``)::

    type: hmac
    secrets: ["${TOOL_SECRET}"]
    header: X-Signature
    prefix: "sha256="
    timestamp_header: X-Timestamp
    signed_content: "{timestamp}.{body}"
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..body import parse_generic_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .locators import Locator, locator_option, required_value
from .options import (
    check_keys,
    header_name_option,
    max_body_option,
    secrets_option,
    string_option,
    tolerance_option,
    url_option,
)
from .request import delivery_id, routable_headers, signed_url
from .signatures import any_hmac_matches, decode_base64, hex_candidate, hmac_text
from .timestamps import check_window, parse_unix_timestamp

DIGESTS = ("sha1", "sha256", "sha512")
ENCODINGS = ("hex", "base64")
PLACEHOLDERS = ("body", "timestamp", "method", "url", "path")
#: None by name: the configured signature ``header`` is added per source (see ``verify``).
CREDENTIAL_HEADERS: tuple[str, ...] = ()
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


@dataclass(frozen=True)
class Template:
    """The signed content: literal text and placeholders, split once at load time."""

    parts: tuple[tuple[bool, str], ...]  # (is_placeholder, text)

    @classmethod
    def parse(cls, text: str, where: str) -> Template:
        parts: list[tuple[bool, str]] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.group(1) not in PLACEHOLDERS:
                raise ConfigError(f"{where}: unknown placeholder {{{match.group(1)}}}; expected "
                                  + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
            parts.append((False, text[position:match.start()]))
            parts.append((True, match.group(1)))
            position = match.end()
        parts.append((False, text[position:]))
        names = [p for is_name, p in parts if is_name]
        if names.count("body") != 1:
            raise ConfigError(f"{where}: must contain {{body}} exactly once (an unsigned body "
                              "could be anything)")
        return cls(tuple((is_name, p) for is_name, p in parts if is_name or p))

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p for is_name, p in self.parts if is_name)

    def render(self, values: Mapping[str, bytes]) -> bytes:
        return b"".join(values[p] if is_name else p.encode("utf-8") for is_name, p in self.parts)


def candidates_of(header: str, *, prefix: str | None, separator: str | None, encoding: str,
                  digest: str) -> list[bytes]:
    """The well-formed signatures in ``header`` (entries without the prefix are skipped)."""
    size = hashlib.new(digest).digest_size
    found: list[bytes] = []
    for entry in header.split(separator) if separator else [header]:
        entry = entry.strip()
        if prefix:
            if not entry.startswith(prefix):
                continue
            entry = entry[len(prefix):]
        if encoding == "hex":
            candidate = hex_candidate(entry, size)
        else:
            decoded = decode_base64(entry)
            candidate = decoded if decoded is not None and len(decoded) == size else None
        if candidate is not None:
            found.append(candidate)
    return found


@dataclass(frozen=True)
class HmacSource(SecretSource):
    header: str
    event: Locator
    delivery: Locator | None = None
    digest: str = "sha256"
    encoding: str = "hex"
    prefix: str | None = None
    separator: str | None = None
    timestamp_header: str | None = None
    timestamp_millis: bool = False
    template: Template = Template(((True, "body"),))
    public_url: str | None = None
    tolerance: int = 300
    type: str = "hmac"

    def sign(self, secret: bytes, inbound: Inbound) -> str:
        """The header value this source expects for ``inbound`` (for tests and the CLI)."""
        mac = hmac_text(secret, self.template.render(self._values(inbound)), self.digest, self.encoding)
        return (self.prefix or "") + mac

    def _values(self, inbound: Inbound) -> dict[str, bytes]:
        values = {"body": inbound.body, "method": inbound.method.encode("ascii"),
                  "path": inbound.path.encode("utf-8"), "timestamp": b""}
        if "url" in self.template.names:
            values["url"] = signed_url(inbound, self.public_url).encode("utf-8")
        if self.timestamp_header is not None:
            values["timestamp"] = (inbound.header(self.timestamp_header) or "").encode("ascii", "replace")
        return values

    def verify_signature(self, inbound: Inbound, now: float) -> None:
        """Raises:
            MissingSignature: the signature (or timestamp) header is missing.
            TimestampOutOfWindow: the timestamp is more than ``tolerance`` seconds from ``now``.
            BadSignature: no well-formed signature, or no (secret, signature) pair matches.
        """
        header = inbound.header(self.header)
        if header is None:
            raise MissingSignature(f"missing {self.header} header")
        if self.timestamp_header is not None:
            stamp = parse_unix_timestamp(inbound.header(self.timestamp_header),
                                         self.timestamp_header, millis=self.timestamp_millis)
            check_window(stamp, now, self.tolerance, self.timestamp_header)
        candidates = candidates_of(header, prefix=self.prefix, separator=self.separator,
                                   encoding=self.encoding, digest=self.digest)
        if not candidates:
            raise BadSignature(f"{self.header} has no well-formed {self.encoding} {self.digest} signature")
        message = self.template.render(self._values(inbound))
        encode = "hex" if self.encoding == "hex" else "raw"
        if not any_hmac_matches(self.secrets, message, candidates, self.digest, encode):
            raise BadSignature(f"no secret matches {self.header}")

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: no event name, an over-long id, or a bad body (400).
        """
        self.verify_signature(inbound, now)
        body = parse_generic_body(inbound)
        ident = self.delivery.find(inbound, body) if self.delivery is not None else None
        return Delivery(source=self.name, event=required_value(self.event, inbound, body),
                        delivery_id=delivery_id(ident, inbound.body), body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS + (self.header,)))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> HmacSource:
    check_keys(raw, ("secrets", "header", "algorithm", "encoding", "prefix", "separator",
                     "timestamp_header", "timestamp_unit", "signed_content", "public_url",
                     "tolerance", "event", "delivery_id", "max_body_bytes"), where)
    header = header_name_option(raw, "header", where)
    if header is None:
        raise ConfigError(f"{where}.header: the signature header is required")
    timestamp_header = header_name_option(raw, "timestamp_header", where)
    unit = string_option(raw, "timestamp_unit", where, "s", choices=("s", "ms"))
    content = string_option(raw, "signed_content", where,
                            "{timestamp}.{body}" if timestamp_header else "{body}")
    assert content is not None
    template = Template.parse(content, f"{where}.signed_content")
    if timestamp_header is not None and "timestamp" not in template.names:
        raise ConfigError(f"{where}.signed_content: must contain {{timestamp}} when "
                          "timestamp_header is set (an unsigned timestamp prevents no replay)")
    if timestamp_header is None and "timestamp" in template.names:
        raise ConfigError(f"{where}.signed_content: {{timestamp}} needs timestamp_header")
    prefix = raw.get("prefix")
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise ConfigError(f"{where}.prefix: expected a non-empty string")
    separator = raw.get("separator")
    if separator is not None and (not isinstance(separator, str) or not separator):
        raise ConfigError(f"{where}.separator: expected a non-empty string")
    event = locator_option(raw, "event", where, default={"value": "webhook"})
    assert event is not None
    return HmacSource(
        name=name,
        secrets=secrets_option(raw, where),
        header=header,
        event=event,
        delivery=locator_option(raw, "delivery_id", where),
        digest=string_option(raw, "algorithm", where, "sha256", choices=DIGESTS) or "sha256",
        encoding=string_option(raw, "encoding", where, "hex", choices=ENCODINGS) or "hex",
        prefix=prefix,
        separator=separator,
        timestamp_header=timestamp_header,
        timestamp_millis=unit == "ms",
        template=template,
        public_url=url_option(raw, "public_url", where),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    """The event and delivery id where the source reads them, the timestamp header, and the
    signature of the configured content."""
    source = c.source
    if c.draft.event:
        c.place(source.event, c.draft.event, "event")
    if source.delivery is not None and source.delivery.kind != "value":
        c.place(source.delivery, c.identify(c.fresh("uuid")), "delivery id")
    if source.timestamp_header is not None:
        stamp = int(c.now * 1000) if source.timestamp_millis else int(c.now)
        c.headers[source.timestamp_header] = str(stamp)
    c.headers[source.header] = source.sign(c.need_key(), c.inbound())


SENDER = SenderType(
    type="hmac", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    examples=(
        Example("deploy-finished", "deploy-finished.json", "a deploy tool's deploy.finished"),
        Example("alert-fired", "alert-fired.json", "a monitoring tool's alert.fired"),
    ))
