"""Svix: Standard Webhooks under the header names ``svix-id``, ``svix-timestamp`` and
``svix-signature``. An adapter onto :mod:`airhook.senders.standard_webhooks` (as svix's own
verifier is onto standardwebhooks'); ``standard-webhooks`` also accepts these names.

https://docs.svix.com/receiving/verifying-payloads/how-manual
"""

from __future__ import annotations

from typing import Any, Mapping

from .standard_webhooks import SVIX, StandardWebhooksSource, build


def from_config(name: str, raw: Mapping[str, Any], where: str) -> StandardWebhooksSource:
    return build(name, raw, where, "svix", (SVIX,))
