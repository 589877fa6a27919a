"""GitLab: the classic X-Gitlab-Token, the Standard Webhooks signing token, or both."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks.webhooks as stdwh

from airhook.errors import BadSignature, ConfigError, MalformedRequest, MissingSignature, TimestampOutOfWindow

from .support import DROP, NOW, fresh_secret, inbound, source

TOKEN = fresh_secret()
OLD_TOKEN = fresh_secret()
SIGNING = "whsec_" + base64.b64encode(os.urandom(32)).decode()
BODY = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                   "project": {"path_with_namespace": "group/app"}}).encode()

TOKEN_ONLY = source("gitlab", tokens=[TOKEN, OLD_TOKEN])
SIGNED_ONLY = source("gitlab", signing_tokens=[SIGNING])
BOTH = source("gitlab", tokens=[TOKEN], signing_tokens=[SIGNING])


def token_request(token: Any = TOKEN, body: bytes = BODY, **extra: Any):
    return inbound(body, {"x-gitlab-token": token, "x-gitlab-event": "Push Hook",
                          "idempotency-key": "f1e2d3c4-idem", "x-gitlab-event-uuid": "ev-uuid", **extra})


def signed_request(body: bytes = BODY, *, secret: str = SIGNING, timestamp: int = NOW, **extra: Any):
    signature = stdwh.Webhook(secret).sign("wh-1", datetime.fromtimestamp(timestamp, tz=UTC), body.decode())
    return inbound(body, {"webhook-id": "wh-1", "webhook-timestamp": str(timestamp),
                          "webhook-signature": signature, "x-gitlab-event": "Push Hook", **extra})


@pytest.mark.parametrize("token", [TOKEN, OLD_TOKEN])
def test_secret_token_and_rotation(token: str) -> None:
    delivery = TOKEN_ONLY.verify(token_request(token), NOW)
    assert (delivery.event, delivery.delivery_id) == ("Push Hook", "f1e2d3c4-idem")
    assert "x-gitlab-token" not in delivery.headers  # routes cannot copy the credential


@pytest.mark.parametrize("token, error, message", [
    (DROP, MissingSignature, "X-Gitlab-Token"),
    ("", MissingSignature, "X-Gitlab-Token"),
    (TOKEN + "x", BadSignature, "matches no configured token"),
    (TOKEN[:-1], BadSignature, "matches no configured token"),
    ("é" + TOKEN, BadSignature, "matches no configured token"),
    ("\ud800", BadSignature, "matches no configured token"),
])
def test_token_tamper_matrix(token: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        TOKEN_ONLY.verify(token_request(token), NOW)


def test_signing_token() -> None:
    delivery = SIGNED_ONLY.verify(signed_request(), NOW)
    assert (delivery.event, delivery.delivery_id) == ("Push Hook", "wh-1")


@pytest.mark.parametrize("changes, now, error", [
    ({"secret": "whsec_" + base64.b64encode(os.urandom(32)).decode()}, NOW, BadSignature),
    ({"body": BODY + b" "}, NOW, BadSignature),
    ({}, NOW + 301, TimestampOutOfWindow),
    ({}, NOW - 301, TimestampOutOfWindow),
])
def test_signing_token_tamper_matrix(changes: dict[str, Any], now: int, error: type) -> None:
    body = changes.pop("body", None)
    request = signed_request(**changes)
    if body is not None:
        request = inbound(body, dict(request.headers))
    with pytest.raises(error):
        SIGNED_ONLY.verify(request, now)


def test_a_signed_only_source_refuses_a_plain_token() -> None:
    with pytest.raises(MissingSignature, match="webhook-id"):
        SIGNED_ONLY.verify(token_request(), NOW)


def test_both_accepts_either_but_a_present_signature_must_verify() -> None:
    assert BOTH.verify(token_request(), NOW).event == "Push Hook"
    assert BOTH.verify(signed_request(), NOW).event == "Push Hook"
    forged = signed_request(secret="whsec_" + base64.b64encode(os.urandom(32)).decode(), **{"x-gitlab-token": TOKEN})
    with pytest.raises(BadSignature):
        BOTH.verify(forged, NOW)


@pytest.mark.parametrize("extra, body, event, ident", [
    ({"x-gitlab-event": DROP}, BODY, "push", "f1e2d3c4-idem"),
    ({"idempotency-key": DROP}, BODY, "Push Hook", "ev-uuid"),
    ({"x-gitlab-event": "System Hook"}, json.dumps({"event_name": "project_create"}).encode(), "System Hook", "f1e2d3c4-idem"),
])
def test_event_and_delivery_fallbacks(extra: dict[str, Any], body: bytes, event: str, ident: str) -> None:
    delivery = TOKEN_ONLY.verify(token_request(body=body, **extra), NOW)
    assert (delivery.event, delivery.delivery_id) == (event, ident)


def test_no_event_at_all_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="X-Gitlab-Event"):
        TOKEN_ONLY.verify(token_request(body=b"{}", **{"x-gitlab-event": DROP}), NOW)


@pytest.mark.parametrize("options, message", [
    ({}, "set tokens"),
    ({"tokens": []}, "at least one non-empty secret"),
    ({"signing_tokens": ["plain-not-base64!"]}, r"signing_tokens\[0\]"),
    ({"token": TOKEN}, "unknown key"),
])
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source("gitlab", **options)
