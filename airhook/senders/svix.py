"""Svix: Standard Webhooks under the header names ``svix-id``, ``svix-timestamp`` and
``svix-signature``. An adapter onto :mod:`airhook.senders.standard_webhooks` (as svix's own
verifier is onto standardwebhooks').

Svix can also send the standard ``webhook-*`` names, and its SDK (svix 1.x ``svix/webhooks.py``)
reads ``svix-*`` first, then ``webhook-*``; so does this type. The three values always come from
one set, so the id and timestamp are those the signature covers.

https://docs.svix.com/receiving/verifying-payloads/how-manual
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Example, SenderType
from .standard_webhooks import (
    CREDENTIAL_HEADERS,
    STANDARD,
    SVIX,
    StandardWebhooksSource,
    build,
    sign_delivery,
    signing_key,
)

__all__ = ["CREDENTIAL_HEADERS", "SENDER", "from_config"]


def from_config(name: str, raw: Mapping[str, Any], where: str) -> StandardWebhooksSource:
    return build(name, raw, where, "svix", (SVIX, STANDARD))


SENDER = SenderType(
    type="svix", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    signing_key=signing_key, deadline=12.0,  # as standard-webhooks
    examples=(
        Example("user-updated", "user-updated.json", "Clerk's user.updated, through Svix"),
        Example("session-created", "session-created.json", "Clerk's session.created, through Svix"),
    ))
