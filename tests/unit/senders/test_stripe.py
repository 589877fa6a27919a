"""Stripe: vectors signed by stripe-python, the tamper matrix, rotation and the window."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from airhook.errors import (
    BadSignature,
    ConfigError,
    MalformedRequest,
    MissingSignature,
    TimestampOutOfWindow,
    UnsupportedMediaType,
)
from airhook.senders.stripe import sign, verify_signature

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret("whsec_")
OLD_SECRET = fresh_secret("whsec_")
BODY = json.dumps({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event",
                   "type": "payment_intent.succeeded",
                   "data": {"object": {"id": "pi_1", "amount": 2000}}}).encode()
SOURCE = source("stripe", secrets=[SECRET, OLD_SECRET])


def sdk_header(body: bytes = BODY, secret: str = SECRET, timestamp: int = NOW) -> str:
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)


def request(body: bytes = BODY, *, header: Any = None, content_type: str = "application/json", **sign_args: Any):
    value = sdk_header(body, **sign_args) if header is None else header
    return inbound(body, {"stripe-signature": value}, content_type=content_type)


def test_sdk_vector_verifies_and_names_the_event() -> None:
    delivery = SOURCE.verify(request(), NOW)
    assert (delivery.event, delivery.delivery_id) == ("payment_intent.succeeded", "evt_1NG8Du2eZvKYlo2CUI79vXWy")
    assert delivery.body["data"]["object"]["amount"] == 2000 and delivery.reply is None


def test_own_signer_matches_the_sdk() -> None:
    assert sign(SECRET.encode(), BODY, NOW) == sdk_header()
    # and stripe-python accepts ours (its own clock: give it a timestamp of now)
    import time
    now = int(time.time())
    stripe.WebhookSignature.verify_header(BODY.decode(), sign(SECRET.encode(), BODY, now), SECRET, 300)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_every_secret_of_a_rotation_verifies(secret: str) -> None:
    assert SOURCE.verify(request(secret=secret), NOW).event == "payment_intent.succeeded"


def test_any_of_several_v1_signatures_verifies() -> None:
    good = sdk_header().split(",v1=")[1]
    header = f"t={NOW},v1={'0' * 64},v0={'1' * 64},v1={good}"
    SOURCE.verify(request(header=header), NOW)



@pytest.mark.parametrize("header, body, now, error, message", [
    (DROP, BODY, NOW, MissingSignature, "missing Stripe-Signature"),
    ("", BODY, NOW, MissingSignature, "missing Stripe-Signature"),
    (lambda: sdk_header(), BODY + b" ", NOW, BadSignature, "no secret matches"),
    (lambda: sdk_header(secret=fresh_secret("whsec_")), BODY, NOW, BadSignature, "no secret matches"),
    (lambda: sdk_header().replace(f"t={NOW}", f"t={NOW + 1}"), BODY, NOW, BadSignature, "no secret matches"),
    (lambda: sdk_header()[:-1] + ("0" if sdk_header()[-1] != "0" else "1"), BODY, NOW, BadSignature, "no secret matches"),
    (lambda: sdk_header().replace("v1=", "v0="), BODY, NOW, BadSignature, "no well-formed v1"),
    (lambda: sdk_header()[:-2], BODY, NOW, BadSignature, "no well-formed v1"),
    (lambda: sdk_header().split(",")[1], BODY, NOW, BadSignature, "no t= timestamp"),
    (lambda: sdk_header().replace(f"t={NOW}", "t=soon"), BODY, NOW, BadSignature, "not a Unix timestamp"),
    (lambda: sdk_header().replace(f"t={NOW}", f"t=-{NOW}"), BODY, NOW, BadSignature, "not a Unix timestamp"),
    (lambda: sdk_header().replace(f"t={NOW}", f"t={NOW}.5"), BODY, NOW, BadSignature, "not a Unix timestamp"),
    ("garbage", BODY, NOW, BadSignature, "no t= timestamp"),
    ("t=1,v1=é", BODY, 1, BadSignature, "no well-formed v1"),
    (lambda: sdk_header(), BODY, NOW + 301, TimestampOutOfWindow, "301s old"),
    (lambda: sdk_header(), BODY, NOW - 301, TimestampOutOfWindow, "301s in the future"),
])
def test_tamper_matrix(header: Any, body: bytes, now: int, error: type, message: str) -> None:
    value = header() if callable(header) else header
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, {"stripe-signature": value}), now)


@pytest.mark.parametrize("now", [NOW - 300, NOW + 300])
def test_window_edges_pass(now: int) -> None:
    SOURCE.verify(request(), now)


def test_timestamp_is_checked_before_the_hmac() -> None:
    with pytest.raises(TimestampOutOfWindow):
        verify_signature(BODY, f"t={NOW},v1={'0' * 64}", [SECRET.encode()], NOW + 1000, 300)


def test_tolerance_is_configurable() -> None:
    strict = source("stripe", secrets=[SECRET], tolerance=10)
    strict.verify(request(), NOW + 10)
    with pytest.raises(TimestampOutOfWindow):
        strict.verify(request(), NOW + 11)


def test_redelivery_keeps_the_event_id() -> None:
    first = SOURCE.verify(request(timestamp=NOW), NOW)
    again = SOURCE.verify(request(timestamp=NOW + 3600), NOW + 3600)
    assert first.delivery_id == again.delivery_id


@pytest.mark.parametrize("body, content_type, error, message", [
    (b'{"id": "evt_1"}', "application/json", MalformedRequest, "'type'"),
    (b'{"type": "x"}', "application/json", MalformedRequest, "'id'"),
    (b'[1]', "application/json", MalformedRequest, "'type'"),
    (b'{"id": "evt", "type": "x"}', "text/plain", UnsupportedMediaType, "text/plain"),
    (b'{nope', "application/json", MalformedRequest, "invalid JSON"),
])
def test_signed_but_unusable_bodies(body: bytes, content_type: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(request(body, content_type=content_type), NOW)


def test_signature_is_checked_before_the_body_is_parsed() -> None:
    with pytest.raises(BadSignature):
        SOURCE.verify(request(b"{nope", secret=fresh_secret()), NOW)


@pytest.mark.parametrize("options, message", [
    ({}, "secrets: expected a list"),
    ({"secrets": ["", ""]}, "at least one non-empty secret"),
    ({"secrets": [SECRET], "tolerance": 0}, "tolerance: expected an integer between 1 and 86400"),
    ({"secrets": [SECRET], "tolerance": 10**6}, "tolerance"),
    ({"secrets": [SECRET], "secret": SECRET}, "unknown key"),
])
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source("stripe", **options)


def test_credentials_never_reach_routes() -> None:
    signed = request()
    sent = inbound(signed.body, {**signed.headers, "authorization": "Basic dTpw", "cookie": "a=b",
                                 "proxy-authorization": "Basic eDp5"})
    delivery = SOURCE.verify(sent, NOW)
    assert delivery.delivery_id == "evt_1NG8Du2eZvKYlo2CUI79vXWy"
    assert not {"authorization", "cookie", "proxy-authorization", "stripe-signature"} & set(delivery.headers)
