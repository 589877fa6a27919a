"""Build a delivery exactly as a sender would: its headers, content type, timestamp, delivery id
and signature, for every sender type airhook verifies.

``send`` posts what :func:`prepare` returns; ``explain`` hands it straight to the source's own
verifier (with a stand-in credential), so the event name and delivery id it shows are the ones the
function would read. What a sender sets and signs is its module's ``SENDER.sign`` (given the
:class:`Context` here); this module holds what every type shares: the payload, ids, the URL.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as _random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .. import senders
from ..delivery import Inbound
from ..senders.base import SigningError
from ..senders.locators import Locator
from .output import CliError

#: Every sender type a delivery can be built for.
TYPES = senders.types()

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Draft:
    """What to send: the payload and what the user chose (``None``: as the sender would)."""

    body: bytes
    content_type: str = JSON
    event: str | None = None
    #: ``--redeliver``: reuse this id (or the value the hint printed); None: a fresh one
    delivery_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outbound:
    """A delivery ready to post."""

    url: str
    headers: dict[str, str]
    body: bytes
    #: the delivery id the function will read (a ``sha256-`` body hash when the sender has none)
    delivery_id: str
    #: what ``--redeliver`` takes to send this delivery again; None: the body itself is the id
    redeliver: str | None
    #: the instant it was signed (its verifier accepts it at this time)
    now: float


def random_id(kind: str) -> str:
    """A fresh id in the sender's own format."""
    if kind == "stripe":
        return "evt_" + "".join(_random.choice(_ALNUM) for _ in range(24))
    if kind == "slack":
        return "Ev" + "".join(_random.choice(_UPPER) for _ in range(10))
    if kind == "ulid":
        return "01" + "".join(_random.choice(_UPPER) for _ in range(24))
    if kind == "svix":
        return "msg_" + "".join(_random.choice(_ALNUM) for _ in range(27))
    if kind == "slack-trigger":
        return f"{_random.randbelow(10**13)}.{_random.randbelow(10**13)}.{_random.token_hex(16)}"
    if kind == "number":
        return str(_random.randbelow(9 * 10 ** 9) + 10 ** 9)
    return str(uuid.uuid4())


def body_hash(body: bytes) -> str:
    """The delivery id the function gives a delivery without one (see senders.request.delivery_id)."""
    return "sha256-" + hashlib.sha256(body).hexdigest()[:32]


class Body:
    """The payload, parsed once when a field has to change (JSON object or form), re-encoded only
    if one did: an untouched payload is sent byte for byte."""

    def __init__(self, raw: bytes, content_type: str) -> None:
        self.raw = raw
        self.content_type = content_type
        self.changed = False
        self._json: Any = None
        self._form: list[tuple[str, str]] | None = None
        media = content_type.split(";", 1)[0].strip().lower()
        self.kind = "form" if media == FORM else "json" if media == JSON or media.endswith("+json") else "raw"
        if self.kind == "json":
            try:
                self._json = json.loads(raw) if raw.strip() else None
            except ValueError:
                raise CliError("the payload is not valid JSON (give --content-type for another format)") from None
        elif self.kind == "form":
            try:
                self._form = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
            except (UnicodeDecodeError, ValueError):
                raise CliError("the payload is not a valid x-www-form-urlencoded form") from None

    @property
    def json(self) -> Any:
        return self._json

    @property
    def form(self) -> list[tuple[str, str]]:
        return list(self._form or [])

    def get(self, path: str) -> Any:
        if self.kind == "form":
            return next((v for k, v in self._form or [] if k == path), None)
        node = self._json
        for key in path.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    def set(self, path: str, value: Any, what: str) -> None:
        """Put ``value`` at the dotted ``path`` (a form field, or nested JSON objects).

        Raises:
            CliError: the payload has no place for it.
        """
        if self.get(path) == value:
            return
        if self.kind == "form":
            fields = [(k, v) for k, v in self._form or [] if k != path]
            self._form = fields + [(path, str(value))]
        else:
            node = self._json
            *parents, last = path.split(".")
            for key in parents:
                if not isinstance(node, dict) or not isinstance(node.get(key, {}), dict):
                    node = None
                    break
                node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise CliError(f"cannot set the {what} at {path!r}: the payload is not a JSON object there")
            node[last] = value
        self.changed = True

    def set_json(self, document: Any) -> None:
        self._json = document
        self.changed = True

    def bytes(self) -> bytes:
        if not self.changed:
            return self.raw
        if self.kind == "form":
            return urlencode(self._form or []).encode("ascii")
        return json.dumps(self._json, ensure_ascii=False, indent=2).encode("utf-8")


@dataclass
class Context:
    """One delivery being built: the source, the payload, and what has been decided so far."""

    source: Any
    draft: Draft
    body: Body
    url: str
    now: float
    key: bytes | None
    id_token: str | None
    headers: dict[str, str] = field(default_factory=dict)
    delivery_id: str | None = None
    redeliver: str | None = None
    query: str = ""

    def fresh(self, kind: str) -> str:
        """The ``--redeliver`` id, else a new one."""
        return self.draft.delivery_id or random_id(kind)

    def identify(self, value: str) -> str:
        self.delivery_id = self.redeliver = value
        return value

    def need_key(self) -> bytes:
        if self.key is None:
            raise CliError(f"source {self.source.name!r} has no secret to sign with")
        return self.key

    def place(self, locator: Locator | None, value: str, what: str) -> bool:
        """Put ``value`` where ``locator`` reads it. False when there is no locator.

        Raises:
            CliError: a constant locator with another value, or a body expression too complex to
                write to.
        """
        if locator is None:
            return False
        if locator.kind == "header":
            self.headers[locator.name] = value
        elif locator.kind == "value":
            if value != locator.name:
                raise CliError(f"source {self.source.name!r} fixes its {what} to {locator.name!r} "
                               f"in the config; it cannot be {value!r}")
        elif _SIMPLE_PATH.match(locator.name):
            self.body.set(locator.name, value, what)
        else:
            raise CliError(f"cannot place the {what} at the expression {locator.name!r}: "
                           "put it in the payload yourself")
        return True

    def iso_now(self) -> str:
        return datetime.fromtimestamp(int(self.now), UTC).isoformat().replace("+00:00", "Z")

    def random_id(self, kind: str) -> str:
        return random_id(kind)

    def with_query(self, url: str) -> str:
        return _with_query(url, self.query)

    def inbound(self) -> Inbound:
        return Inbound(method="POST", path="/" + self.source.name,
                       headers={k.lower(): v for k, v in self.headers.items()},
                       body=self.body.bytes(), query=self.query, url=_with_query(self.url, self.query))


def _with_query(url: str, query: str) -> str:
    return url + ("?" + query if query else "")


def signing_key(source: Any, override: str | None = None) -> bytes | None:
    """The credential ``source`` verifies with: the first (newest) secret, or ``override``
    (``--secret-file``) in the form the config takes it (the type's own ``signing_key``).

    Raises:
        CliError: ``override`` is not a credential of the form the type takes.
    """
    try:
        return senders.sender(source.type).signing_key(source, override)
    except SigningError as exc:
        raise CliError(str(exc)) from None


def prepare(source: Any, draft: Draft, *, url: str, now: float, key: bytes | None,
            id_token: str | None = None) -> Outbound:
    """The delivery ``source``'s sender would make of ``draft``, addressed to ``url``.

    Raises:
        CliError: the type is unknown, or the draft cannot be sent as this sender sends.
    """
    if not senders.is_type(source.type):
        raise CliError(f"cannot sign for sender type {source.type!r}")
    context = Context(source=source, draft=draft, body=Body(draft.body, draft.content_type),
                      url=url.split("?", 1)[0], now=now, key=key, id_token=id_token,
                      query=urlsplit(url).query)
    context.headers.update(draft.headers)
    context.headers["Content-Type"] = draft.content_type
    try:
        senders.sender(source.type).sign(context)
    except SigningError as exc:
        raise CliError(str(exc)) from None
    body = context.body.bytes()
    # A header the user gave wins over one the sender sets (to try a wrong signature, say).
    for name, value in draft.headers.items():
        matching = [k for k in context.headers if k.lower() == name.lower() and k != name]
        for other in matching:
            del context.headers[other]
        context.headers[name] = value
    delivery_id = context.delivery_id or body_hash(body)
    return Outbound(url=_with_query(context.url, context.query), headers=context.headers, body=body,
                    delivery_id=delivery_id, redeliver=context.redeliver, now=now)


__all__ = ["Draft", "Outbound", "TYPES", "body_hash", "prepare", "random_id", "signing_key"]
