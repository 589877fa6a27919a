"""HubSpot v3: vectors signed by hubspot-api-client, URL canonicalisation, batches, the window."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.utils.signature import Signature

from airhook.errors import BadSignature, MissingSignature, TimestampOutOfWindow
from airhook.senders.hubspot import canonical_uri, sign, verify_signature

from .support import DROP, NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
OLD_SECRET = fresh_secret()
PUBLIC = "https://hooks.example.com/hubspot"
SOURCE = source("hubspot", secrets=[SECRET, OLD_SECRET], public_url=PUBLIC)
NOW_MS = NOW * 1000
EVENT = {"eventId": 100, "subscriptionId": 7, "portalId": 62515, "occurredAt": NOW_MS,
         "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123}
BODY = json.dumps([EVENT]).encode()


def sdk_signature(body: bytes = BODY, secret: str = SECRET, url: str = PUBLIC, timestamp: int = NOW_MS) -> str:
    return Signature.get_signature(secret, body.decode(), "v3", http_uri=url, http_method="POST",
                                   timestamp=str(timestamp))


def request(body: bytes = BODY, *, secret: str = SECRET, timestamp: int = NOW_MS, query: str = "",
            override: dict[str, Any] | None = None):
    url = PUBLIC + ("?" + query if query else "")
    headers: dict[str, Any] = {"x-hubspot-signature-v3": sdk_signature(body, secret, url, timestamp),
                               "x-hubspot-request-timestamp": str(timestamp)}
    headers.update(override or {})
    return inbound(body, headers, query=query, path="/hubspot")


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_sdk_vector_and_rotation(secret: str) -> None:
    delivery = SOURCE.verify(request(secret=secret), NOW)
    assert (delivery.event, delivery.delivery_id) == ("contact.creation", "100")


def test_own_signer_matches_the_sdk() -> None:
    assert sign(SECRET.encode(), "POST", PUBLIC, BODY, NOW_MS)["x-hubspot-signature-v3"] == sdk_signature()


def test_query_strings_are_signed() -> None:
    SOURCE.verify(request(query="portal=62515&x=1"), NOW)


def test_hubspot_decodes_some_escapes_before_signing() -> None:
    assert canonical_uri("https://h/p?a=%3a%2F%3F%40%21%24%27%28%29%2a%2C%3B&b=%20") == "https://h/p?a=:/?@!$'()*,;&b=%20"
    query = "redirect=https%3A%2F%2Fexample.com"
    signed = sdk_signature(url=PUBLIC + "?redirect=https://example.com")
    SOURCE.verify(inbound(BODY, {"x-hubspot-signature-v3": signed, "x-hubspot-request-timestamp": str(NOW_MS)},
                          query=query), NOW)


def test_mixed_batch_is_named_batch_and_identified_by_its_signed_event_ids() -> None:
    body = json.dumps([EVENT, {**EVENT, "eventId": 101, "subscriptionType": "deal.creation"}]).encode()
    delivery = SOURCE.verify(request(body), NOW)
    assert delivery.event == "batch" and delivery.delivery_id.startswith("events-")
    same = json.dumps([EVENT, {**EVENT, "eventId": 101}]).encode()
    again = SOURCE.verify(request(same), NOW)
    assert again.event == "contact.creation" and again.delivery_id == delivery.delivery_id
    # Distinct batches (other event ids, same shape) are distinct deliveries.
    other = json.dumps([{**EVENT, "eventId": 102}, {**EVENT, "eventId": 101}]).encode()
    assert SOURCE.verify(request(other), NOW).delivery_id != delivery.delivery_id
    no_ids = json.dumps([{"subscriptionType": "a"}, {"subscriptionType": "a"}]).encode()
    assert SOURCE.verify(request(no_ids), NOW).delivery_id.startswith("sha256-")


@pytest.mark.parametrize("override, now, error, message", [
    ({"x-hubspot-signature-v3": DROP}, NOW, MissingSignature, "X-HubSpot-Signature-v3"),
    ({"x-hubspot-request-timestamp": DROP}, NOW, MissingSignature, "X-HubSpot-Request-Timestamp"),
    ({"x-hubspot-request-timestamp": "soon"}, NOW, BadSignature, "not a Unix timestamp"),
    ({"x-hubspot-request-timestamp": str(NOW_MS + 1)}, NOW, BadSignature, "no secret matches"),
    ({"x-hubspot-signature-v3": "abc"}, NOW, BadSignature, "not a base64 SHA-256"),
    ({"x-hubspot-signature-v3": sdk_signature(secret=fresh_secret())}, NOW, BadSignature, "no secret matches"),
    ({"x-hubspot-signature-v3": sdk_signature(url=PUBLIC + "/other")}, NOW, BadSignature, "no secret matches"),
    ({}, NOW + 301, TimestampOutOfWindow, "301s old"),
    ({}, NOW - 301, TimestampOutOfWindow, "301s in the future"),  # the SDK would let this through
])
def test_tamper_matrix(override: dict[str, Any], now: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SOURCE.verify(request(override=override), now)


def test_timestamp_is_checked_before_the_hmac() -> None:
    with pytest.raises(TimestampOutOfWindow):
        verify_signature("POST", PUBLIC, BODY, "AAAA", str(NOW_MS), [SECRET.encode()], NOW + 3600, 300)
