"""GitHub verification: the documented vector and the tamper matrix."""

from __future__ import annotations

import pytest

from airhook.delivery import Inbound
from airhook.errors import BadSignature, MalformedRequest, MissingSignature, UnsupportedMediaType
from airhook.senders import build_source
from airhook.senders.github import sign, verify_signature
from tests.conftest import payload

# https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
DOC_SECRET = b"It's a Secret to Everybody"
DOC_BODY = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SECRET = b"test-secret"
OLD_SECRET = b"previous-secret"


def test_documented_vector() -> None:
    assert sign(DOC_SECRET, DOC_BODY) == DOC_SIGNATURE
    verify_signature(DOC_BODY, DOC_SIGNATURE, [DOC_SECRET])


@pytest.mark.parametrize("header, body, secrets, error, message", [
    (None, DOC_BODY, [DOC_SECRET], MissingSignature, "missing"),
    ("", DOC_BODY, [DOC_SECRET], MissingSignature, "missing"),
    (DOC_SIGNATURE.replace("sha256=", "sha1="), DOC_BODY, [DOC_SECRET], BadSignature, "sha256="),
    (DOC_SIGNATURE[:-1], DOC_BODY, [DOC_SECRET], BadSignature, "64-digit"),
    (DOC_SIGNATURE + "00", DOC_BODY, [DOC_SECRET], BadSignature, "64-digit"),
    ("sha256=" + "é" * 64, DOC_BODY, [DOC_SECRET], BadSignature, "64-digit"),
    (DOC_SIGNATURE, DOC_BODY + b" ", [DOC_SECRET], BadSignature, "no secret"),
    (DOC_SIGNATURE, b"Hello, World?", [DOC_SECRET], BadSignature, "no secret"),
    (DOC_SIGNATURE, DOC_BODY, [b"wrong"], BadSignature, "no secret"),
    (DOC_SIGNATURE[:-1] + "0", DOC_BODY, [DOC_SECRET], BadSignature, "no secret"),
])
def test_tamper_matrix(header: str | None, body: bytes, secrets: list[bytes], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        verify_signature(body, header, secrets)


@pytest.mark.parametrize("secrets", [[DOC_SECRET, b"other"], [b"other", DOC_SECRET]])
def test_any_secret_of_a_rotation_verifies(secrets: list[bytes]) -> None:
    verify_signature(DOC_BODY, DOC_SIGNATURE, secrets)


def test_upper_case_hex_is_accepted() -> None:
    verify_signature(DOC_BODY, "sha256=" + DOC_SIGNATURE[7:].upper(), [DOC_SECRET])


def inbound(body: bytes, *, event: str | None = "push", delivery: str | None = "d-1",
            content_type: str = "application/json", signature: str | None = "sign",
            secret: bytes = SECRET) -> Inbound:
    headers = {"content-type": content_type}
    if event is not None:
        headers["x-github-event"] = event
    if delivery is not None:
        headers["x-github-delivery"] = delivery
    if signature == "sign":
        signature = sign(secret, body)
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return Inbound(method="POST", path="/github", headers=headers, body=body)


SOURCE = build_source("github", {"type": "github", "secrets": [SECRET.decode(), OLD_SECRET.decode()]},
                      "sources.github")


def test_verified_push_delivery() -> None:
    body = payload("push")
    delivery = SOURCE.verify(inbound(body), now=0)
    assert (delivery.source, delivery.event, delivery.delivery_id) == ("github", "push", "d-1")
    assert delivery.body["repository"]["full_name"] == "Codertocat/Hello-World"
    assert delivery.reply is None


def test_previous_secret_still_verifies() -> None:
    assert SOURCE.verify(inbound(payload("push"), secret=OLD_SECRET), now=0).event == "push"


def test_form_encoded_payload() -> None:
    from urllib.parse import urlencode
    body = urlencode({"payload": payload("push").decode()}).encode()
    delivery = SOURCE.verify(inbound(body, content_type="application/x-www-form-urlencoded"), now=0)
    assert delivery.body["ref"] == "refs/tags/simple-tag"


def test_ping_is_a_handshake() -> None:
    delivery = SOURCE.verify(inbound(payload("ping"), event="ping"), now=0)
    assert delivery.reply == {"message": "pong"}


def test_missing_delivery_id_falls_back_to_body_hash() -> None:
    body = payload("push")
    first = SOURCE.verify(inbound(body, delivery=None), now=0).delivery_id
    assert first.startswith("sha256-") and first == SOURCE.verify(inbound(body, delivery=""), now=0).delivery_id


@pytest.mark.parametrize("changes, error, message", [
    ({"event": None}, MalformedRequest, "X-GitHub-Event"),
    ({"delivery": "x" * 201}, MalformedRequest, "too long"),
    ({"content_type": "text/plain"}, UnsupportedMediaType, "text/plain"),
    ({"signature": None}, MissingSignature, "missing"),
    ({"secret": b"intruder"}, BadSignature, "no secret"),
])
def test_delivery_rejections(changes: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(inbound(payload("push"), **changes), now=0)


def test_signature_is_checked_before_the_body_is_parsed() -> None:
    with pytest.raises(BadSignature):
        SOURCE.verify(inbound(b"{not json", signature=sign(b"intruder", b"{not json")), now=0)
    with pytest.raises(MalformedRequest, match="invalid JSON"):
        SOURCE.verify(inbound(b"{not json"), now=0)


def test_repr_hides_secrets() -> None:
    assert SECRET.decode() not in repr(SOURCE) and "secrets=<2>" in repr(SOURCE)
