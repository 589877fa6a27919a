"""The one interface every sender type implements (:class:`SenderType`), and what its sources
share (:class:`SourceBase`, :class:`SecretSource`).

A sender module ends with ``SENDER = SenderType(...)``: how to read its config, the credential
headers routes never see, how to build a signed delivery as the sender would (for tests and the
CLI), the default deadline and example payloads. :mod:`airhook.senders` lists the modules; nothing
else names a type. This module imports nothing beyond the standard library's dataclasses and
typing, so a deployment pays for it and for its configured types only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..delivery import Delivery, Inbound
    from .locators import Locator

#: GitHub's own maximum payload; a per-source ``max_body_bytes`` may lower or raise it.
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024
#: Seconds a delivery may spend reaching Airflow when neither the type nor the source says: under
#: GitHub's 10 s, the shortest common sender timeout among types that do not set their own.
DEFAULT_DEADLINE = 9.0
#: Where the example payloads live (``<dir>/<type>/<file>``): data, shipped with the CLI. A string,
#: not a Path: pathlib is not otherwise imported at a deployment's cold start.
EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli", "examples")


class Source(Protocol):
    """A configured source: its name (the URL path) and how to verify its deliveries."""

    # Read-only (properties): the sources are frozen dataclasses.
    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def max_body_bytes(self) -> int: ...

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Verify ``inbound`` and return the delivery, or raise a RequestError subclass."""
        ...


@dataclass(frozen=True)
class SourceBase:
    """What every source has: its name (the URL path) and the largest body it reads. Keyword-only
    so that each type's own fields keep their order (and their defaults) after ``name``."""

    name: str
    max_body_bytes: int = field(default=DEFAULT_MAX_BODY_BYTES, kw_only=True)


@dataclass(frozen=True)
class SecretSource(SourceBase):
    """A source keyed with shared secrets (newest first), never shown in a repr or a traceback."""

    secrets: tuple[bytes, ...] = field(repr=False)


class SigningError(ValueError):
    """A delivery cannot be built as the sender would (the CLI shows the message)."""


class Outgoing(Protocol):
    """A delivery being built by a type's ``sign`` (``airhook.cli.signing.Context``): the source,
    what the user asked for, the payload, and the headers and ids decided so far."""

    source: Any
    draft: Any  # .event, .delivery_id: what the user chose (None: as the sender would)
    body: Any  # .kind ("json", "form", "raw"), .json, .form, .get, .set, .set_json, .bytes()
    url: str
    now: float
    id_token: str | None
    headers: dict[str, str]
    delivery_id: str | None
    redeliver: str | None
    query: str

    def fresh(self, kind: str) -> str:
        """The ``--redeliver`` id, else a new id in the sender's format (``random_id``)."""
        ...

    def random_id(self, kind: str) -> str:
        """A new id in the sender's format, for ids that do not identify the delivery."""
        ...

    def identify(self, value: str) -> str:
        """Make ``value`` the delivery id (and what ``--redeliver`` takes)."""
        ...

    def need_key(self) -> bytes:
        """The credential to sign with (raises when the source has none)."""
        ...

    def place(self, locator: Locator | None, value: str, what: str) -> bool:
        """Put ``value`` where ``locator`` reads it; False when there is no locator."""
        ...

    def iso_now(self) -> str:
        ...

    def with_query(self, url: str) -> str:
        """``url`` with the delivery's query string."""
        ...

    def inbound(self) -> Inbound:
        """The request as built so far, as the source's verifier will see it."""
        ...


@dataclass(frozen=True)
class Example:
    """An example payload for ``airhook send --example NAME``, shaped like the sender's own
    documentation shows it. ``event`` is the name a header carries (GitHub's ``X-GitHub-Event``);
    senders that name the event in the body carry it in the payload."""

    name: str
    file: str
    summary: str
    event: str | None = None
    content_type: str = "application/json"

    def read(self, kind: str) -> bytes:
        with open(os.path.join(EXAMPLES_DIR, kind, self.file), "rb") as payload:
            return payload.read()


def first_secret(source: Any, override: str | None) -> bytes | None:
    """The credential a secret-keyed source signs with: its first (newest) secret, or
    ``override`` (``--secret-file``) as the config would take it."""
    if override is not None:
        return override.encode("utf-8")
    secret: bytes = source.secrets[0]
    return secret


@dataclass(frozen=True)
class SenderType:
    """Everything about one sender type, in its own module (``SENDER = SenderType(...)``)."""

    #: the config's ``type:``
    type: str
    #: ``from_config(name, raw, where) -> Source``; raises ConfigError naming ``where``
    from_config: Callable[[str, Mapping[str, Any], str], Source]
    #: the type's signature and token headers, never visible to routes (besides
    #: ``request.GENERIC_CREDENTIAL_HEADERS``, dropped for every type)
    credential_headers: tuple[str, ...]
    #: ``sign(outgoing)``: set the headers, ids and body fields the sender would, and sign
    sign: Callable[[Outgoing], None]
    #: example payloads, the first the default
    examples: tuple[Example, ...]
    #: ``signing_key(source, override) -> bytes | None``: the credential ``sign`` uses
    signing_key: Callable[[Any, str | None], bytes | None] = first_secret
    #: seconds a delivery may spend reaching Airflow, under the sender's own timeout
    deadline: float = DEFAULT_DEADLINE
