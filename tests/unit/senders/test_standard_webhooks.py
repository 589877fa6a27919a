"""Standard Webhooks and its Svix adapter: the spec's vector, vectors signed by the
standardwebhooks and svix SDKs, the tamper matrix, rotation and the window."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks.webhooks as stdwh
import svix.webhooks

from airhook.errors import (
    BadSignature,
    ConfigError,
    MalformedRequest,
    MissingSignature,
    TimestampOutOfWindow,
    UnsupportedMediaType,
)
from airhook.senders.standard_webhooks import decode_secret, sign, verify_signature

from .support import DROP, NOW, inbound, source

# The Standard Webhooks spec's test vector.
DOC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DOC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
DOC_TIMESTAMP = "1614265330"
DOC_BODY = b'{"test": 2432232314}'
DOC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def fresh_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


SECRET = fresh_whsec()
OLD_SECRET = fresh_whsec()
SOURCE = source("standard-webhooks", secrets=[SECRET, OLD_SECRET])
BODY = json.dumps({"type": "user.created", "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC"}}).encode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def sdk_signature(body: bytes = BODY, secret: str = SECRET, timestamp: int = NOW, msg_id: str = MSG_ID) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return stdwh.Webhook(secret).sign(msg_id, moment, body.decode())


def headers(prefix: str = "webhook", *, body: bytes = BODY, secret: str = SECRET, timestamp: int = NOW,
            override: dict[str, Any] | None = None) -> dict[str, Any]:
    """Valid headers for ``body``, with ``override`` replacing single ones (``{"id": DROP}``)."""
    values: dict[str, Any] = {f"{prefix}-id": MSG_ID, f"{prefix}-timestamp": str(timestamp),
                              f"{prefix}-signature": sdk_signature(body, secret, timestamp)}
    values.update({f"{prefix}-{k}": v for k, v in (override or {}).items()})
    return values


def test_spec_vector() -> None:
    key = decode_secret(DOC_SECRET)
    assert key is not None
    assert sign(key, DOC_ID, int(DOC_TIMESTAMP), DOC_BODY) == DOC_SIGNATURE
    verify_signature(DOC_BODY, DOC_ID, DOC_TIMESTAMP, DOC_SIGNATURE, [key], int(DOC_TIMESTAMP), 300)


def test_spec_vector_through_the_source() -> None:
    doc = source("standard-webhooks", secrets=[DOC_SECRET], event={"value": "test"})
    delivery = doc.verify(inbound(DOC_BODY, {"webhook-id": DOC_ID, "webhook-timestamp": DOC_TIMESTAMP,
                                             "webhook-signature": DOC_SIGNATURE}), int(DOC_TIMESTAMP))
    assert (delivery.event, delivery.delivery_id, delivery.body) == ("test", DOC_ID, {"test": 2432232314})


def test_sdk_vector_verifies() -> None:
    delivery = SOURCE.verify(inbound(BODY, headers()), NOW)
    assert (delivery.event, delivery.delivery_id) == ("user.created", MSG_ID)


def test_the_sdk_accepts_our_signature() -> None:
    now = int(time.time())
    key = decode_secret(SECRET)
    assert key is not None
    stdwh.Webhook(SECRET).verify(BODY, {"webhook-id": MSG_ID, "webhook-timestamp": str(now),
                                        "webhook-signature": sign(key, MSG_ID, now, BODY)})


def test_svix_headers_are_accepted_by_standard_webhooks_and_by_svix() -> None:
    svix_signed = svix.webhooks.Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(NOW, tz=UTC),
                                                      BODY.decode())
    svix_headers = {"svix-id": MSG_ID, "svix-timestamp": str(NOW), "svix-signature": svix_signed}
    assert SOURCE.verify(inbound(BODY, svix_headers), NOW).delivery_id == MSG_ID
    only_svix = source("svix", secrets=[SECRET])
    assert only_svix.type == "svix" and only_svix.verify(inbound(BODY, svix_headers), NOW).event == "user.created"
    # As svix's SDK: svix-* first, then the standard webhook-* names.
    assert only_svix.verify(inbound(BODY, headers()), NOW).delivery_id == MSG_ID
    with pytest.raises(MissingSignature, match="svix-id"):
        only_svix.verify(inbound(BODY, {**svix_headers, "svix-id": DROP}), NOW)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_every_secret_of_a_rotation_verifies(secret: str) -> None:
    SOURCE.verify(inbound(BODY, headers(secret=secret)), NOW)


def test_any_of_several_signatures_verifies() -> None:
    good = sdk_signature()
    other = sdk_signature(secret=fresh_whsec())
    for value in (f"{other} {good}", f"{good} {other}", f"v1a,abcd v2,xyz nonsense {good}"):
        SOURCE.verify(inbound(BODY, headers(override={"signature": value})), NOW)


@pytest.mark.parametrize("overrides, body, now, error, message", [
    ({"id": DROP}, BODY, NOW, MissingSignature, "webhook-id"),
    ({"signature": DROP}, BODY, NOW, MissingSignature, "webhook-signature"),
    ({"timestamp": DROP}, BODY, NOW, MissingSignature, "webhook-timestamp"),
    ({"timestamp": "1e9"}, BODY, NOW, BadSignature, "not a Unix timestamp"),
    ({"timestamp": str(NOW + 1)}, BODY, NOW, BadSignature, "no secret matches"),
    ({"id": "msg_other"}, BODY, NOW, BadSignature, "no secret matches"),
    ({"id": "msg_é"}, BODY, NOW, BadSignature, "not ASCII"),
    ({"signature": "v1,not base64!"}, BODY, NOW, BadSignature, "no well-formed v1"),
    ({"signature": "v1," + base64.b64encode(b"short").decode()}, BODY, NOW, BadSignature, "no well-formed v1"),
    ({"signature": "v1a,AAAA"}, BODY, NOW, BadSignature, "no well-formed v1"),
    ({"signature": "garbage"}, BODY, NOW, BadSignature, "no well-formed v1"),
    ({"secret": fresh_whsec()}, BODY, NOW, BadSignature, "no secret matches"),
    ({}, BODY + b"\n", NOW, BadSignature, "no secret matches"),
    ({}, BODY, NOW + 301, TimestampOutOfWindow, "301s old"),
    ({}, BODY, NOW - 301, TimestampOutOfWindow, "301s in the future"),
])
def test_tamper_matrix(overrides: dict[str, Any], body: bytes, now: int, error: type, message: str) -> None:
    secret = overrides.pop("secret", SECRET)
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, headers(secret=secret, override=overrides)), now)


def test_timestamp_is_checked_before_the_hmac() -> None:
    with pytest.raises(TimestampOutOfWindow):
        verify_signature(BODY, MSG_ID, str(NOW), "v1,AAAA", [b"k"], NOW + 1000, 300)


def test_event_field_is_configurable() -> None:
    custom = source("standard-webhooks", secrets=[SECRET], event={"body": "data.id"})
    assert custom.verify(inbound(BODY, headers()), NOW).event == "user_29w83sxmDNGwOuEthce5gg56FcC"
    by_header = source("standard-webhooks", secrets=[SECRET], event={"header": "X-Event"})
    assert by_header.verify(inbound(BODY, {**headers(), "x-event": "e"}), NOW).event == "e"


@pytest.mark.parametrize("body, content_type, error, message", [
    (b'{"data": {}}', "application/json", MalformedRequest, "no event name in body 'type'"),
    (b'{"type": "a"}', "text/plain", UnsupportedMediaType, "text/plain"),
])
def test_signed_but_unusable_bodies(body: bytes, content_type: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(body, headers(body=body), content_type=content_type), NOW)


@pytest.mark.parametrize("secrets, message", [
    (["whsec_not*base64"], r"secrets\[0\]: not a whsec_<base64> secret"),
    (["whsec_"], r"secrets\[0\]"),
    ([""], "at least one non-empty secret"),
    ("whsec_", r"secrets\[0\]"),
])
def test_config_errors_do_not_repeat_the_secret(secrets: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        source("standard-webhooks", secrets=secrets)
    assert "not*base64" not in str(caught.value)


def test_secret_without_prefix_is_accepted() -> None:
    bare = source("standard-webhooks", secrets=[SECRET[len("whsec_"):]])
    bare.verify(inbound(BODY, headers()), NOW)


# ----------------------------------------------------------------- ids, events and credentials


@pytest.mark.parametrize("kind", ["standard-webhooks", "svix"])
@pytest.mark.parametrize("prefix", ["webhook", "svix"])
def test_id_is_the_signed_one_and_credentials_never_reach_routes(kind: str, prefix: str) -> None:
    target = source(kind, secrets=[SECRET])
    sent = {**headers(prefix), "authorization": "Bearer x", "cookie": "a=b"}
    delivery = target.verify(inbound(BODY, sent), NOW)
    assert delivery.delivery_id == MSG_ID
    assert delivery.headers[f"{prefix}-id"] == MSG_ID
    assert not {"authorization", "cookie", f"{prefix}-signature", f"{prefix}-timestamp"} & set(delivery.headers)


@pytest.mark.parametrize("forged", [
    pytest.param({"svix-id": "msg_forged"}, id="other-set-id"),
    pytest.param({"webhook-id": "msg_forged"}, id="same-set-id"),
])
def test_a_replay_cannot_choose_its_id(forged: dict[str, str]) -> None:
    # The id is signed with the timestamp and body: a replay under another id fails, and an id
    # from the other header set is never mixed in.
    sent = {**headers("webhook"), **forged}
    if "webhook-id" in forged:
        with pytest.raises(BadSignature):
            SOURCE.verify(inbound(BODY, sent), NOW)
    else:
        assert SOURCE.verify(inbound(BODY, sent), NOW).delivery_id == MSG_ID
