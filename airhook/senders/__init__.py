"""Senders: one module per sender type, each turning a raw request into a verified Delivery.

The registry maps a ``type:`` from the config to the module that implements it. Modules are
imported only when a configured source uses them, so a GitHub-only deployment never pays for the
others at cold start.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import Any, Mapping, Protocol

from ..delivery import Delivery, Inbound
from ..errors import ConfigError

#: GitHub's own maximum payload; a per-source ``max_body_bytes`` may lower or raise it.
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024


class Source(Protocol):
    """A configured source: its name (the URL path) and how to verify its deliveries."""

    name: str
    type: str
    max_body_bytes: int

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Verify ``inbound`` and return the delivery, or raise a RequestError subclass."""
        ...


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


def build_source(name: str, raw: Mapping[str, Any], where: str) -> Source:
    """Build the source named ``name`` from its config mapping (``where`` locates it in errors)."""
    kind = raw.get("type")
    if kind not in _TYPES:
        raise ConfigError(f"{where}.type: unknown sender type {kind!r}; expected one of {', '.join(types())}")
    module = importlib.import_module(_TYPES[kind])
    source: Source = module.from_config(name, raw, where)
    return source
