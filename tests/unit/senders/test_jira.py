"""Jira Cloud admin webhooks: ``X-Hub-Signature: sha256=<hex>`` over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, MalformedRequest, MissingSignature
from airhook.senders.jira import sign

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("jira", secrets=[SECRET, OLD_SECRET])
ISSUE = json.dumps({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"key": "OPS-1"}}).encode()


def hub(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_sign_agrees_with_an_independent_hmac() -> None:
    assert sign(SECRET.encode(), ISSUE) == hub(SECRET, ISSUE)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_issue_created_and_rotation(secret: str) -> None:
    delivery = SOURCE.verify(inbound(ISSUE, {"x-hub-signature": hub(secret, ISSUE),
                                             "x-atlassian-webhook-identifier": "jira-42"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("jira:issue_created", "jira-42")
    assert delivery.body["issue"]["key"] == "OPS-1"


def test_webhook_event_is_required() -> None:
    body = b'{"issue": {}}'
    with pytest.raises(MalformedRequest, match="webhookEvent"):
        SOURCE.verify(inbound(body, {"x-hub-signature": hub(SECRET, body)}), NOW)


@pytest.mark.parametrize("header, body, error, message", [
    (DROP, ISSUE, MissingSignature, "missing X-Hub-Signature"),
    (hub(SECRET, ISSUE).replace("sha256=", "sha1="), ISSUE, BadSignature, "does not start with sha256="),
    (hub(SECRET, ISSUE)[:-1], ISSUE, BadSignature, "not a sha256 hex digest"),
    ("sha256=" + "é" * 64, ISSUE, BadSignature, "not a sha256 hex digest"),
    (hub(SECRET, ISSUE), ISSUE + b" ", BadSignature, "no secret matches"),
    (hub(fresh_secret(), ISSUE), ISSUE, BadSignature, "no secret matches"),
])
def test_tamper_matrix(header: Any, body: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, {"x-hub-signature": header}), NOW)
