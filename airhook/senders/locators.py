"""Locators: where a configurable value (an event name, a delivery id) comes from, a header, a
JMESPath expression over the parsed body, or a constant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ..delivery import Inbound
from ..errors import ConfigError, MalformedRequest
from .options import header_name_option

#: Where a locator reads: a request header, a JMESPath expression over the body, or a constant.
LocatorKind = Literal["header", "body", "value"]


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
    kinds: tuple[LocatorKind, ...] = get_args(LocatorKind)
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

