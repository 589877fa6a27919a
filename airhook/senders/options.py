"""Reading a source's config: unknown keys refused, secrets, integers, strings, header names and
URLs, each error naming where in the config it is."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .base import DEFAULT_MAX_BODY_BYTES

#: Replay window for timestamped schemes, in seconds, in both directions.
DEFAULT_TOLERANCE = 300
#: A larger tolerance would make the replay window meaningless.
MAX_TOLERANCE = 24 * 3600


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


def max_body_option(raw: Mapping[str, Any], where: str, default: int = DEFAULT_MAX_BODY_BYTES) -> int:
    """``max_body_bytes:``, which every type takes (GitHub's 25 MB unless the type says)."""
    return int_option(raw, "max_body_bytes", default, where)
