"""Bitbucket and Jira: ``X-Hub-Signature: sha256=<hex>`` over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, MalformedRequest, MissingSignature
from airhook.senders import bitbucket, jira

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
BITBUCKET = source("bitbucket", secrets=[SECRET, OLD_SECRET])
JIRA = source("jira", secrets=[SECRET, OLD_SECRET])
PUSH = json.dumps({"push": {"changes": [{"new": {"name": "main"}}]}, "repository": {"full_name": "team/app"}}).encode()
ISSUE = json.dumps({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"key": "OPS-1"}}).encode()


def hub(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_sign_helpers_agree_with_an_independent_hmac() -> None:
    assert bitbucket.sign(SECRET.encode(), PUSH) == jira.sign(SECRET.encode(), PUSH) == hub(SECRET, PUSH)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_bitbucket_cloud(secret: str) -> None:
    delivery = BITBUCKET.verify(inbound(PUSH, {"x-hub-signature": hub(secret, PUSH), "x-event-key": "repo:push",
                                               "x-request-uuid": "b1c2-uuid"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("repo:push", "b1c2-uuid")


def test_bitbucket_data_center_request_id() -> None:
    delivery = BITBUCKET.verify(inbound(PUSH, {"x-hub-signature": hub(SECRET, PUSH), "x-event-key": "repo:refs_changed",
                                               "x-request-id": "dc-1"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("repo:refs_changed", "dc-1")


def test_bitbucket_needs_an_event_key() -> None:
    with pytest.raises(MalformedRequest, match="X-Event-Key"):
        BITBUCKET.verify(inbound(PUSH, {"x-hub-signature": hub(SECRET, PUSH)}), NOW)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_jira(secret: str) -> None:
    delivery = JIRA.verify(inbound(ISSUE, {"x-hub-signature": hub(secret, ISSUE),
                                           "x-atlassian-webhook-identifier": "jira-42"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("jira:issue_created", "jira-42")
    assert delivery.body["issue"]["key"] == "OPS-1"


def test_jira_needs_webhook_event() -> None:
    body = b'{"issue": {}}'
    with pytest.raises(MalformedRequest, match="webhookEvent"):
        JIRA.verify(inbound(body, {"x-hub-signature": hub(SECRET, body)}), NOW)


@pytest.mark.parametrize("kind", ["bitbucket", "jira"])
@pytest.mark.parametrize("header, body, error, message", [
    (DROP, ISSUE, MissingSignature, "missing X-Hub-Signature"),
    ("", ISSUE, MissingSignature, "missing X-Hub-Signature"),
    (hub(SECRET, ISSUE).replace("sha256=", "sha1="), ISSUE, BadSignature, "does not start with sha256="),
    (hub(SECRET, ISSUE)[:-1], ISSUE, BadSignature, "not a sha256 hex digest"),
    (hub(SECRET, ISSUE) + "0", ISSUE, BadSignature, "not a sha256 hex digest"),
    ("sha256=" + "z" * 64, ISSUE, BadSignature, "not a sha256 hex digest"),
    (hub(SECRET, ISSUE), ISSUE + b" ", BadSignature, "no secret matches"),
    (hub(fresh_secret(), ISSUE), ISSUE, BadSignature, "no secret matches"),
])
def test_tamper_matrix(kind: str, header: Any, body: bytes, error: type, message: str) -> None:
    target = BITBUCKET if kind == "bitbucket" else JIRA
    with pytest.raises(error, match=message):
        target.verify(inbound(body, {"x-hub-signature": header, "x-event-key": "repo:push"}), NOW)


def test_upper_case_hex_is_accepted() -> None:
    header = "sha256=" + hub(SECRET, ISSUE)[7:].upper()
    assert JIRA.verify(inbound(ISSUE, {"x-hub-signature": header}), NOW).event == "jira:issue_created"
