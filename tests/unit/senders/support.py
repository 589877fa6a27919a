"""Helpers shared by the sender tests: requests as a verifier sees them, fresh secrets, a clock."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Mapping
from typing import Any

from airhook.delivery import Inbound
from airhook.senders import Source, build_source

#: The injected clock for every test: a fixed instant, so windows are exact.
NOW = 1_700_000_000

#: Passed as a header value to a request builder: leave that header out.
DROP = object()


def fresh_secret(prefix: str = "") -> str:
    """A new random secret per test module, as the issue asks (no fixed secrets but the
    providers' published ones)."""
    return prefix + _secrets.token_urlsafe(24)


def inbound(body: bytes, headers: Mapping[str, Any], *, content_type: str | None = "application/json",
            method: str = "POST", path: str = "/src", query: str = "", url: str = "") -> Inbound:
    """An Inbound with lower-cased headers; values that are None or DROP are left out."""
    merged: dict[str, str] = {}
    if content_type is not None:
        merged["content-type"] = content_type
    for key, value in headers.items():
        if value is not None and value is not DROP:
            merged[key.lower()] = value
    return Inbound(method=method, path=path, headers=merged, body=body, query=query, url=url)


def source(type_: str, name: str = "src", **options: Any) -> Source:
    """A source built through the registry, exactly as the config loader builds it."""
    return build_source(name, {"type": type_, **options}, f"sources.{name}")
