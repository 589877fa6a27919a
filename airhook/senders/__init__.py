"""Senders: one module per sender type, each turning a raw request into a verified Delivery.

Each module carries everything about its type behind one interface, ``SENDER`` (a
:class:`~airhook.senders.base.SenderType`): config, verification, signing for tests and the CLI,
the default deadline and example payloads. The registry below maps a ``type:`` from the config to
that module, and is the one place that lists the types. Modules are imported only when a
configured source uses them, so a GitHub-only deployment never pays for the others at cold start.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .base import DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES, SenderType, Source

#: ``type:`` -> the module whose ``SENDER`` implements it. Adding a type: its module, one line here.
_TYPES: Mapping[str, str] = MappingProxyType({
    "bitbucket": "airhook.senders.bitbucket",
    "github": "airhook.senders.github",
    "gitlab": "airhook.senders.gitlab",
    "google-oidc": "airhook.senders.google_oidc",
    "hmac": "airhook.senders.generic_hmac",
    "hubspot": "airhook.senders.hubspot",
    "jira": "airhook.senders.jira",
    "linear": "airhook.senders.linear",
    "pagerduty": "airhook.senders.pagerduty",
    "shopify": "airhook.senders.shopify",
    "slack": "airhook.senders.slack",
    "standard-webhooks": "airhook.senders.standard_webhooks",
    "stripe": "airhook.senders.stripe",
    "svix": "airhook.senders.svix",
    "token": "airhook.senders.generic_token",
    "twilio": "airhook.senders.twilio",
    "zendesk": "airhook.senders.zendesk",
})


def types() -> tuple[str, ...]:
    """The sender types a config may name."""
    return tuple(sorted(_TYPES))


def is_type(kind: Any) -> bool:
    return isinstance(kind, str) and kind in _TYPES


def sender(kind: str) -> SenderType:
    """The type ``kind`` (its module is imported now, once: Python caches modules).

    Raises:
        KeyError: not a registered type.
    """
    if not is_type(kind):
        raise KeyError(kind)
    found: SenderType = importlib.import_module(_TYPES[kind]).SENDER
    return found


def default_deadline(kind: Any) -> float:
    """The deadline of a source of type ``kind`` that sets none (DEFAULT_DEADLINE for a type that
    is not registered: its source is refused a moment later, naming the type)."""
    return sender(kind).deadline if is_type(kind) else DEFAULT_DEADLINE


def build_source(name: str, raw: Mapping[str, Any], where: str) -> Source:
    """Build the source named ``name`` from its config mapping (``where`` locates it in errors)."""
    kind = raw.get("type")
    if not isinstance(kind, str) or not is_type(kind):
        raise ConfigError(f"{where}.type: unknown sender type {kind!r}; expected one of {', '.join(types())}")
    return sender(kind).from_config(name, raw, where)


__all__ = ["DEFAULT_DEADLINE", "DEFAULT_MAX_BODY_BYTES", "SenderType", "Source", "build_source",
           "default_deadline", "is_type", "sender", "types"]
