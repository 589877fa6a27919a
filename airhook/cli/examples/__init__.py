"""Example payloads for ``airhook send --example NAME``: a few realistic deliveries per sender
type, shaped like the sender's own documentation shows them. The first one of a type is its
default. Each sender module lists its own (``SENDER.examples``); the payloads are the files in
``<type>/`` here. Event names are those a header carries (GitHub's ``X-GitHub-Event``, ...);
senders that name the event in the body carry it in the payload."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from ... import senders
from ...senders.base import EXAMPLES_DIR, Example
from ..output import CliError

HERE = Path(EXAMPLES_DIR)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

#: Each type's examples, from its module's ``SENDER.examples`` (the CLI may import every type).
CATALOGUE: Mapping[str, tuple[Example, ...]] = MappingProxyType(
    {kind: senders.sender(kind).examples for kind in senders.types()})


def for_type(kind: str) -> tuple[Example, ...]:
    return CATALOGUE.get(kind, ())


def find(kind: str, name: str | None) -> Example:
    """The example ``name`` of sender type ``kind`` (its first when ``name`` is None).

    Raises:
        CliError: no such example; the message lists the ones there are.
    """
    examples = for_type(kind)
    if not examples:
        raise CliError(f"no examples for sender type {kind!r}; give --payload FILE")
    if name is None:
        return examples[0]
    for example in examples:
        if example.name == name:
            return example
    names = ", ".join(e.name for e in examples)
    raise CliError(f"no example {name!r} for {kind}; there are: {names}")
