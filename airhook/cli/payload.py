"""What the user gives to send or explain: a payload (a file, stdin, or a shipped example) and
extra headers."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import examples
from .output import CliError
from .signing import FORM, JSON

_FORM_BODY = re.compile(r"^[A-Za-z0-9_.~%+-]+=[^&\s]*(&[A-Za-z0-9_.~%+-]+=[^&\s]*)*$")


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str
    #: the event the example is (for senders that name it in a header), if any
    event: str | None
    #: where it came from, for people
    origin: str


def guess_content_type(body: bytes, name: str = "") -> str:
    """JSON when it parses as JSON, a form when it looks like one, else JSON (what most senders
    send; the sender's verifier then says what is wrong)."""
    text = body.strip()
    if name.endswith(".json"):
        return JSON
    try:
        json.loads(text or b"{}")
        return JSON
    except ValueError:
        pass
    if _FORM_BODY.match(text.decode("ascii", "replace")):
        return FORM
    return JSON


def load(kind: str, path: str | None, example: str | None, content_type: str | None) -> Payload:
    """The payload from ``--payload FILE`` (``-``: stdin), else ``--example NAME``, else the sender
    type's first example.

    Raises:
        CliError: an unreadable file, or no such example.
    """
    if path is not None:
        if path == "-":
            body = sys.stdin.buffer.read()
        else:
            try:
                body = Path(path).read_bytes()
            except OSError as exc:
                raise CliError(f"cannot read payload {path}: {exc.strerror}") from None
        return Payload(body, content_type or guess_content_type(body, path), None, path)
    chosen = examples.find(kind, example)
    body = chosen.read(kind)
    if chosen.content_type == FORM:
        body = body.strip()
    return Payload(body, content_type or chosen.content_type, chosen.event,
                   f"example {kind}/{chosen.name}")


def headers(values: Sequence[str] | None) -> dict[str, str]:
    """``--header 'Name: value'`` (or ``Name:value``) as a mapping.

    Raises:
        CliError: a value without a colon.
    """
    result: dict[str, str] = {}
    for value in values or ():
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise CliError(f"--header {value!r}: expected 'Name: value'")
        result[name.strip()] = text.strip()
    return result
