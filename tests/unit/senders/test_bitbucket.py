"""Bitbucket (Cloud and Data Center): ``X-Hub-Signature: sha256=<hex>`` over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from airhook.errors import BadSignature, MalformedRequest, MissingSignature
from airhook.senders.bitbucket import sign

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("bitbucket", secrets=[SECRET, OLD_SECRET])
PUSH = json.dumps({"push": {"changes": [{"new": {"name": "main"}}]}, "repository": {"full_name": "team/app"}}).encode()


def hub(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request(header: Any = None, body: bytes = PUSH, **extra: Any):
    return inbound(body, {"x-hub-signature": hub(SECRET, body) if header is None else header,
                          "x-event-key": "repo:push", "x-request-uuid": "b1c2-uuid", **extra})


def test_sign_agrees_with_an_independent_hmac() -> None:
    assert sign(SECRET.encode(), PUSH) == hub(SECRET, PUSH)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_bitbucket_cloud_and_rotation(secret: str) -> None:
    delivery = SOURCE.verify(request(hub(secret, PUSH)), NOW)
    assert (delivery.event, delivery.delivery_id) == ("repo:push", "b1c2-uuid")
    assert delivery.body["repository"]["full_name"] == "team/app"


def test_data_center_request_id() -> None:
    delivery = SOURCE.verify(request(**{"x-event-key": "repo:refs_changed", "x-request-uuid": DROP,
                                        "x-request-id": "dc-1"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("repo:refs_changed", "dc-1")


def test_event_key_is_required() -> None:
    with pytest.raises(MalformedRequest, match="X-Event-Key"):
        SOURCE.verify(request(**{"x-event-key": DROP}), NOW)


@pytest.mark.parametrize("header, body, error, message", [
    (DROP, PUSH, MissingSignature, "missing X-Hub-Signature"),
    ("", PUSH, MissingSignature, "missing X-Hub-Signature"),
    (hub(SECRET, PUSH).replace("sha256=", "sha1="), PUSH, BadSignature, "does not start with sha256="),
    (hub(SECRET, PUSH)[:-1], PUSH, BadSignature, "not a sha256 hex digest"),
    (hub(SECRET, PUSH) + "0", PUSH, BadSignature, "not a sha256 hex digest"),
    ("sha256=" + "z" * 64, PUSH, BadSignature, "not a sha256 hex digest"),
    (hub(SECRET, PUSH), PUSH + b" ", BadSignature, "no secret matches"),
    (hub(fresh_secret(), PUSH), PUSH, BadSignature, "no secret matches"),
])
def test_tamper_matrix(header: Any, body: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, {"x-hub-signature": header, "x-event-key": "repo:push"}), NOW)


def test_upper_case_hex_is_accepted() -> None:
    SOURCE.verify(request("sha256=" + hub(SECRET, PUSH)[7:].upper()), NOW)
