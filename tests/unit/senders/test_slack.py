"""Slack: Slack's documented vector, vectors signed by slack_sdk, handshakes, the tamper matrix."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from airhook.errors import BadSignature, MalformedRequest, MissingSignature, TimestampOutOfWindow, UnsupportedMediaType
from airhook.senders.slack import sign, verify_signature

from .support import DROP, NOW, fresh_secret, inbound, source

# https://api.slack.com/authentication/verifying-requests-from-slack (worked example)
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIG"
            b"lgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
SOURCE = source("slack", secrets=[SECRET, OLD_SECRET])
FORM = "application/x-www-form-urlencoded"

EVENT = json.dumps({"token": "legacy", "team_id": "T1", "type": "event_callback", "event_id": "Ev08MFMKH6",
                    "event": {"type": "app_mention", "text": "<@U1> deploy", "channel": "C1"}}).encode()


class FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def sdk_headers(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"x-slack-signature": signature, "x-slack-request-timestamp": str(timestamp)}


def request(body: bytes = EVENT, *, content_type: str = "application/json", secret: str = SECRET,
            timestamp: int = NOW, **overrides: Any):
    headers: dict[str, Any] = sdk_headers(body, secret, timestamp)
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return inbound(body, headers, content_type=content_type)


def test_documented_vector() -> None:
    assert sign(DOC_SECRET.encode(), DOC_BODY, int(DOC_TIMESTAMP))["x-slack-signature"] == DOC_SIGNATURE
    verify_signature(DOC_BODY, DOC_SIGNATURE, DOC_TIMESTAMP, [DOC_SECRET.encode()], int(DOC_TIMESTAMP), 300)


def test_documented_slash_command_through_the_source() -> None:
    doc = source("slack", secrets=[DOC_SECRET])
    delivery = doc.verify(inbound(DOC_BODY, {"x-slack-signature": DOC_SIGNATURE,
                                             "x-slack-request-timestamp": DOC_TIMESTAMP},
                                  content_type=FORM), int(DOC_TIMESTAMP))
    assert delivery.event == "/webhook-collect"
    assert delivery.body["user_name"] == "roadrunner" and delivery.extra["form"] == delivery.body
    assert "token" not in delivery.body  # Slack's legacy verification token is a credential
    assert delivery.delivery_id.startswith("sha256-")


def test_own_signer_matches_the_sdk_and_the_sdk_accepts_it() -> None:
    ours = sign(SECRET.encode(), EVENT, NOW)
    assert ours == sdk_headers(EVENT)
    verifier = SignatureVerifier(SECRET, clock=FixedClock(NOW))
    assert verifier.is_valid(EVENT, str(NOW), ours["x-slack-signature"])


def test_events_api_callback() -> None:
    delivery = SOURCE.verify(request(), NOW)
    assert (delivery.event, delivery.delivery_id, delivery.reply) == ("app_mention", "Ev08MFMKH6", None)
    assert "token" not in delivery.body and delivery.body["event"]["channel"] == "C1"


def test_retries_carry_the_same_event_id() -> None:
    first = SOURCE.verify(request(), NOW)
    retry = SOURCE.verify(request(timestamp=NOW + 60, x_slack_retry_num="1",
                                  x_slack_retry_reason="http_timeout"), NOW + 60)
    assert first.delivery_id == retry.delivery_id


def test_url_verification_echoes_the_challenge() -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    delivery = SOURCE.verify(request(body), NOW)
    assert delivery.event == "url_verification"
    assert delivery.reply == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_url_verification_without_challenge_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="challenge"):
        SOURCE.verify(request(b'{"type": "url_verification"}'), NOW)


def test_ssl_check_is_answered_without_routing() -> None:
    delivery = SOURCE.verify(request(b"ssl_check=1&token=legacy", content_type=FORM), NOW)
    assert (delivery.event, delivery.reply) == ("ssl_check", {})


def test_unsigned_ssl_check_is_still_refused() -> None:
    with pytest.raises(MissingSignature):
        SOURCE.verify(inbound(b"ssl_check=1", {}, content_type=FORM), NOW)


def test_interactivity_payload() -> None:
    payload = {"type": "block_actions", "token": "legacy", "trigger_id": "1.2.3",
               "actions": [{"action_id": "deploy", "value": "prod"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    delivery = SOURCE.verify(request(body, content_type=FORM), NOW)
    assert delivery.event == "block_actions" and delivery.body["actions"][0]["value"] == "prod"
    assert "token" not in delivery.body and delivery.extra == {}


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_every_secret_of_a_rotation_verifies(secret: str) -> None:
    SOURCE.verify(request(secret=secret), NOW)


@pytest.mark.parametrize("overrides, body, now, error, message", [
    ({"x_slack_signature": DROP}, EVENT, NOW, MissingSignature, "X-Slack-Signature"),
    ({"x_slack_request_timestamp": DROP}, EVENT, NOW, MissingSignature, "X-Slack-Request-Timestamp"),
    ({"x_slack_request_timestamp": ""}, EVENT, NOW, MissingSignature, "X-Slack-Request-Timestamp"),
    ({"x_slack_request_timestamp": "yesterday"}, EVENT, NOW, BadSignature, "not a Unix timestamp"),
    ({"x_slack_request_timestamp": str(NOW + 1)}, EVENT, NOW, BadSignature, "no secret matches"),
    ({"x_slack_signature": "v1=" + "0" * 64}, EVENT, NOW, BadSignature, "v0="),
    ({"x_slack_signature": "v0=" + "0" * 63}, EVENT, NOW, BadSignature, "64-digit"),
    ({"x_slack_signature": "v0=" + "g" * 64}, EVENT, NOW, BadSignature, "64-digit"),
    ({"x_slack_signature": "v0=" + "é" * 64}, EVENT, NOW, BadSignature, "64-digit"),
    ({"x_slack_signature": "v0=" + "0" * 64}, EVENT, NOW, BadSignature, "no secret matches"),
    ({"secret": "intruder"}, EVENT, NOW, BadSignature, "no secret matches"),
    ({}, EVENT + b" ", NOW, BadSignature, "no secret matches"),
    ({}, EVENT, NOW + 301, TimestampOutOfWindow, "301s old"),
    ({}, EVENT, NOW - 301, TimestampOutOfWindow, "in the future"),
])
def test_tamper_matrix(overrides: dict[str, Any], body: bytes, now: int, error: type, message: str) -> None:
    secret = overrides.pop("secret", SECRET)
    headers: dict[str, Any] = sdk_headers(EVENT, secret)
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, headers), now)


def test_timestamp_is_checked_before_the_hmac() -> None:
    with pytest.raises(TimestampOutOfWindow):
        verify_signature(EVENT, "v0=" + "0" * 64, str(NOW), [SECRET.encode()], NOW + 3600, 300)


@pytest.mark.parametrize("body, content_type, error", [
    (b'{"nothing": 1}', "application/json", MalformedRequest),
    (b"text", "text/plain", UnsupportedMediaType),
    (b"a=%FF", FORM, MalformedRequest),
])
def test_signed_but_unusable_bodies(body: bytes, content_type: str, error: type) -> None:
    with pytest.raises(error):
        SOURCE.verify(request(body, content_type=content_type), NOW)


def test_credentials_never_reach_routes() -> None:
    delivery = SOURCE.verify(request(authorization="Bearer xoxb-1", cookie="d=1"), NOW)
    assert delivery.delivery_id == "Ev08MFMKH6"
    assert not {"authorization", "cookie", "x-slack-signature", "x-slack-request-timestamp"} & set(delivery.headers)
    assert "token" not in delivery.body
