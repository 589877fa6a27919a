"""Unauthenticated requests are cheap (issue 12.1), for the sendersB types: a request without a
valid signature is refused 401 before its body is parsed: it costs at most one copy of the body (the signed
string) and HMAC time. (Twilio, which must parse a form to verify it, is bounded in test_twilio.py.)"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from airhook.errors import VerificationError

from .support import NOW, fresh_secret, inbound, source

BIG = 4 * 1024 * 1024
WHSEC = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FORM = "application/x-www-form-urlencoded"

#: (type, options, forged headers, content type): headers present and well-formed, signature wrong.
CASES: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    ("stripe", {"secrets": [fresh_secret()]}, {"stripe-signature": f"t={NOW},v1={'0' * 64}"}, "application/json"),
    ("slack", {"secrets": [fresh_secret()]},
     {"x-slack-signature": "v0=" + "0" * 64, "x-slack-request-timestamp": str(NOW)}, FORM),
    ("standard-webhooks", {"secrets": [WHSEC]},
     {"webhook-id": "msg_1", "webhook-timestamp": str(NOW), "webhook-signature": "v1," + "A" * 43 + "="},
     "application/json"),
    ("svix", {"secrets": [WHSEC]},
     {"svix-id": "msg_1", "svix-timestamp": str(NOW), "svix-signature": "v1," + "A" * 43 + "="}, "application/json"),
    ("shopify", {"secrets": [fresh_secret()]},
     {"shopify-hmac-sha256": "A" * 43 + "=", "shopify-topic": "orders/create"}, "application/json"),
    ("pagerduty", {"secrets": [fresh_secret()]}, {"x-pagerduty-signature": "v1=" + "0" * 64}, "application/json"),
    ("zendesk", {"secrets": [fresh_secret()]},
     {"x-zendesk-webhook-signature": "A" * 43 + "=", "x-zendesk-webhook-signature-timestamp": "2023-11-14T22:13:20Z"},
     "application/json"),
    ("token", {"tokens": [fresh_secret()]}, {"authorization": "Bearer wrong"}, "application/json"),
]
BODIES = {
    "application/json": b'{"a": [' + b"[" * (BIG // 2) + b"]" * (BIG // 2) + b"]}",
    FORM: b"a=" + b"%41" * (BIG // 3),
}


@pytest.mark.parametrize("kind, options, headers, content_type", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("signed", [False, True], ids=["no-signature", "wrong-signature"])
def test_refused_before_the_body_is_parsed(kind: str, options: dict[str, Any], headers: dict[str, str],
                                            content_type: str, signed: bool) -> None:
    target = source(kind, max_body_bytes=2 * BIG, **options)
    request = inbound(BODIES[content_type], headers if signed else {}, content_type=content_type)
    tracemalloc.start()
    try:
        with pytest.raises(VerificationError):
            target.verify(request, NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Nothing proportional to the body, but for schemes that sign "<prefix><body>" one copy of it
    # for the signed string (HMAC time, no parse).
    body = len(BODIES[content_type])
    assert peak < (body if signed else 0) + 64 * 1024, peak
