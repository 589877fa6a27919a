"""Each sendersB type declares its credential headers (``CREDENTIAL_HEADERS``) for the shared
``routable_headers`` (each type's own test file checks that a signed request's credentials never
reach routes)."""

from __future__ import annotations

import importlib

import pytest

from airhook.senders.request import GENERIC_CREDENTIAL_HEADERS

MODULES = {
    "pagerduty": ("x-pagerduty-signature",),
    "shopify": ("shopify-hmac-sha256", "x-shopify-hmac-sha256"),
    "slack": ("x-slack-signature", "x-slack-request-timestamp"),
    "standard_webhooks": ("webhook-signature", "webhook-timestamp", "svix-signature", "svix-timestamp"),
    "svix": ("webhook-signature", "webhook-timestamp", "svix-signature", "svix-timestamp"),
    "stripe": ("stripe-signature",),
    "generic_token": ("authorization",),
    "twilio": ("x-twilio-signature",),
    "zendesk": ("x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"),
}


@pytest.mark.parametrize("module, expected", MODULES.items(), ids=list(MODULES))
def test_credential_headers_are_declared(module: str, expected: tuple[str, ...]) -> None:
    declared = importlib.import_module(f"airhook.senders.{module}").CREDENTIAL_HEADERS
    assert isinstance(declared, tuple) and all(h == h.lower() for h in declared)
    assert set(declared) == set(expected)


def test_generic_credential_headers() -> None:
    assert {"authorization", "proxy-authorization", "cookie"} <= GENERIC_CREDENTIAL_HEADERS
