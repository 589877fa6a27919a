"""JMESPath expressions, compiled once at load time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from .errors import ConfigError


@dataclass(frozen=True)
class Expression:
    text: str
    compiled: ParsedResult

    def search(self, document: Any) -> Any:
        """Evaluate; a type error at run time (e.g. ``starts_with(null, ...)``) raises JMESPathError."""
        return self.compiled.search(document)


def compile_expression(text: Any, where: str) -> Expression:
    """Compile or raise a ConfigError naming ``where`` (route and key)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: expected a JMESPath expression string")
    try:
        return Expression(text, jmespath.compile(text))
    except JMESPathError as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid JMESPath expression {text!r}: {reason}") from None


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, empty string, empty list and empty object are false."""
    # Not ``value not in (None, False, ...)``: 0 == False in Python, but 0 is true in JMESPath.
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, dict)):
        return len(value) > 0
    return True
