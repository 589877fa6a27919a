"""Twilio: the SDK's published vectors, vectors signed by twilio's RequestValidator, URL rebuilding
behind a proxy, JSON bodies (bodySHA256), shared-key SHA-256 signing and the tamper matrix."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from airhook.errors import BadSignature, ConfigError, MissingSignature
from airhook.senders.twilio import sign, signed_string, url_variants

from .support import NOW, fresh_secret, inbound, source

# Published in the Twilio SDKs' own tests (twilio-python's test_request_validator.py).
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php"
DOC_QUERY = "foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
              "To": "+18005551212", "Caller": "+14158675309"}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
DOC_JSON = b'{"property": "value", "boolean": true}'
DOC_JSON_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
DOC_JSON_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="
FORM = "application/x-www-form-urlencoded"

TOKEN = fresh_secret()
OLD_TOKEN = fresh_secret()
PUBLIC = "https://hooks.example.com/twilio"
SOURCE = source("twilio", secrets=[TOKEN, OLD_TOKEN], public_url=PUBLIC, event={"body": "SmsStatus"})
PARAMS = {"MessageSid": "SM1", "SmsStatus": "received", "Body": "deploy prod ✓", "From": "+15005550006"}


def form_request(params: dict[str, Any] = PARAMS, *, token: str = TOKEN, url: str = PUBLIC, query: str = "",
                 signature: str | None = None, headers: dict[str, Any] | None = None):
    full = url + ("?" + query if query else "")
    value = RequestValidator(token).compute_signature(full, params) if signature is None else signature
    return inbound(urlencode(params).encode(), {"x-twilio-signature": value, **(headers or {})},
                   content_type=FORM, query=query, path="/twilio")


def test_published_form_vector() -> None:
    assert sign(DOC_TOKEN.encode(), f"{DOC_URL}?{DOC_QUERY}", {k: [v] for k, v in DOC_PARAMS.items()}) == DOC_SIGNATURE
    doc = source("twilio", secrets=[DOC_TOKEN], public_url=DOC_URL)
    request = inbound(urlencode(DOC_PARAMS).encode(), {"x-twilio-signature": DOC_SIGNATURE},
                      content_type=FORM, query=DOC_QUERY)
    delivery = doc.verify(request, NOW)
    assert delivery.body["Digits"] == "1234" and delivery.event == "webhook"


def test_published_json_vector() -> None:
    doc = source("twilio", secrets=[DOC_TOKEN], public_url=DOC_URL)
    request = inbound(DOC_JSON, {"x-twilio-signature": DOC_JSON_SIGNATURE},
                      query=f"{DOC_QUERY}&bodySHA256={DOC_JSON_HASH}")
    assert doc.verify(request, NOW).body == {"property": "value", "boolean": True}
    tampered = inbound(DOC_JSON.replace(b"value", b"other"), dict(request.headers), query=request.query)
    with pytest.raises(BadSignature, match="does not match the signed bodySHA256"):
        doc.verify(tampered, NOW)


@pytest.mark.parametrize("token", [TOKEN, OLD_TOKEN])
def test_sdk_vector_and_rotation(token: str) -> None:
    delivery = SOURCE.verify(form_request(token=token, headers={"i-twilio-idempotency-token": "idem-1"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("received", twilio_id("", PARAMS))
    assert delivery.body["Body"] == "deploy prod ✓"


def test_the_sdk_accepts_our_signature() -> None:
    params = {k: [v] for k, v in PARAMS.items()}
    assert RequestValidator(TOKEN).validate(PUBLIC, PARAMS, sign(TOKEN.encode(), PUBLIC, params))


def test_repeated_parameters_are_signed_sorted() -> None:
    params = {"To": ["+2", "+1"], "A": ["x"]}
    assert signed_string("u", params) == b"uAxTo+1To+2"


def test_url_is_rebuilt_from_forwarded_headers_without_public_url() -> None:
    rebuilt = source("twilio", secrets=[TOKEN])
    signature = RequestValidator(TOKEN).compute_signature("https://hooks.example.com/twilio?x=1", PARAMS)
    request = inbound(urlencode(PARAMS).encode(),
                      {"x-twilio-signature": signature, "x-forwarded-proto": "https",
                       "host": "hooks.example.com"},
                      content_type=FORM, query="x=1", url="http://hooks.example.com/twilio?x=1", path="/twilio")
    rebuilt.verify(request, NOW)
    spoofed = inbound(request.body, {**request.headers, "x-forwarded-proto": "http"}, content_type=FORM,
                      query="x=1", url=request.url)
    with pytest.raises(BadSignature, match="public_url"):
        rebuilt.verify(spoofed, NOW)


@pytest.mark.parametrize("signed_as", ["https://hooks.example.com:443/twilio", "https://hooks.example.com/twilio"])
def test_explicit_default_port_either_way(signed_as: str) -> None:
    for public in ("https://hooks.example.com/twilio", "https://hooks.example.com:443/twilio"):
        target = source("twilio", secrets=[TOKEN], public_url=public)
        signature = RequestValidator(TOKEN).compute_signature(signed_as, PARAMS)
        target.verify(form_request(signature=signature), NOW)


def test_url_variants() -> None:
    assert url_variants("https://h.example:8443/p?q=1") == [
        "https://h.example:8443/p?q=1", "https://h.example/p?q=1"]
    assert url_variants("http://h.example/p") == ["http://h.example/p", "http://h.example:80/p"]


def test_shared_key_sha256_signing() -> None:
    params = {k: [v] for k, v in PARAMS.items()}
    signature = sign(TOKEN.encode(), PUBLIC, params, "sha256")
    assert signature == RequestValidator(TOKEN).compute_signature(PUBLIC, PARAMS, "HMAC_SHA256")
    settings = {"x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    SOURCE.verify(form_request(signature=signature, headers=settings), NOW)
    sha1_only = source("twilio", secrets=[TOKEN], public_url=PUBLIC, algorithms=["sha1"])
    with pytest.raises(BadSignature, match="not allowed"):
        sha1_only.verify(form_request(signature=signature, headers=settings), NOW)


@pytest.mark.parametrize("changes, error, message", [
    ({"signature": ""}, MissingSignature, "X-Twilio-Signature"),
    ({"signature": "%%%"}, BadSignature, "not a base64 sha1"),
    ({"token": fresh_secret()}, BadSignature, "no token matches"),
    ({"params": {**PARAMS, "Body": "deploy staging"}}, BadSignature, "no token matches"),
    ({"query": "extra=1"}, BadSignature, "no token matches"),
    ({"headers": {"x-twilio-webhooks-signature-settings": "algorithm=HMAC_MD5"}}, BadSignature, "unknown algorithm"),
    ({"headers": {"x-twilio-webhooks-signature-settings": "algorithm=HMAC_SHA256"}}, BadSignature, "not a base64 sha256"),
])
def test_tamper_matrix(changes: dict[str, Any], error: type, message: str) -> None:
    params = changes.pop("params", None)
    request = form_request(**changes)
    if params is not None:
        request = inbound(urlencode(params).encode(), dict(request.headers), content_type=FORM)
    elif "query" in changes:
        request = inbound(request.body, dict(request.headers), content_type=FORM, query="other=2")
    with pytest.raises(error, match=message):
        SOURCE.verify(request, NOW)


def test_json_without_body_hash_in_the_url_is_refused() -> None:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC, {})
    with pytest.raises(BadSignature, match="bodySHA256"):
        SOURCE.verify(inbound(b'{"a": 1}', {"x-twilio-signature": signature}), NOW)


def test_json_body_through_the_sdk() -> None:
    body = json.dumps({"EventType": "com.twilio.messaging.message.delivered"}).encode()
    query = "bodySHA256=" + hashlib.sha256(body).hexdigest()
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}?{query}", {})
    target = source("twilio", secrets=[TOKEN], public_url=PUBLIC, event={"body": "EventType"})
    delivery = target.verify(inbound(body, {"x-twilio-signature": signature}, query=query), NOW)
    assert delivery.event == "com.twilio.messaging.message.delivered"


@pytest.mark.parametrize("options, message", [
    ({"public_url": "https://h.example/p?x=1"}, "without query"),
    ({"public_url": "ftp://h.example/p"}, "http"),
    ({"algorithms": ["md5"]}, "algorithms"),
    ({"event": {"cookie": "x"}}, "exactly one of header, body, value"),
    ({"event": {"body": "a[["}}, "invalid JMESPath"),
])
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source("twilio", secrets=[TOKEN], **options)


# ----------------------------------------------------------------- run ids from signed material


def twilio_id(query: str, params: dict[str, Any]) -> str:
    # Independently of the module: the query and the sorted parameters, both signed by Twilio.
    canonical = sorted((k, sorted({v} if isinstance(v, str) else set(v))) for k, v in params.items())
    return "sha256-" + hashlib.sha256(query.encode() + b"\n" + json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()[:32]


@pytest.mark.parametrize("variant", [
    pytest.param({}, id="as-sent"),
    pytest.param({"headers": {"i-twilio-idempotency-token": "forged-1"}}, id="new-idempotency-token"),
    pytest.param({"headers": {"i-twilio-idempotency-token": "forged-2"}}, id="another-token"),
    pytest.param({"reorder": True}, id="fields-reordered"),
])
def test_replay_with_new_unsigned_values_is_the_same_delivery(variant: dict[str, Any]) -> None:
    # Twilio signs neither its idempotency token nor a time: what a replay can change must not
    # make a new run id.
    request = form_request(headers={"i-twilio-idempotency-token": "idem-1", **variant.get("headers", {})})
    if variant.get("reorder"):
        body = urlencode(dict(reversed(list(PARAMS.items())))).encode()
        request = inbound(body, dict(request.headers), content_type=FORM, path="/twilio")
    delivery = SOURCE.verify(request, NOW)
    assert delivery.delivery_id == twilio_id("", PARAMS)
    assert delivery.headers["i-twilio-idempotency-token"].startswith(("idem", "forged"))


def test_distinct_callbacks_are_distinct_deliveries() -> None:
    sent = SOURCE.verify(form_request({**PARAMS, "SmsStatus": "sent"}), NOW)
    delivered = SOURCE.verify(form_request({**PARAMS, "SmsStatus": "delivered"}), NOW)
    assert sent.delivery_id != delivered.delivery_id


def test_json_delivery_id_is_the_signed_query_and_body() -> None:
    body = json.dumps({"EventType": "x"}).encode()
    query = "bodySHA256=" + hashlib.sha256(body).hexdigest()
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}?{query}", {})
    target = source("twilio", secrets=[TOKEN], public_url=PUBLIC, event={"body": "EventType"})
    delivery = target.verify(inbound(body, {"x-twilio-signature": signature,
                                            "i-twilio-idempotency-token": "t"}, query=query), NOW)
    assert delivery.delivery_id == "sha256-" + hashlib.sha256(query.encode() + b"\n" + body).hexdigest()[:32]


def test_credentials_never_reach_routes() -> None:
    delivery = SOURCE.verify(form_request(headers={"authorization": "Basic dTpw", "cookie": "a=b"}), NOW)
    assert not {"authorization", "cookie", "x-twilio-signature"} & set(delivery.headers)


# ----------------------------------------------------------------- unauthenticated requests are cheap

BIG = 4 * 1024 * 1024


@pytest.mark.parametrize("signature, error", [
    (None, MissingSignature),
    ("", MissingSignature),
    ("not base64!", BadSignature),
    ("QUFBQQ==", BadSignature),  # base64, but not a SHA-1's 20 bytes
])
def test_unsigned_form_is_refused_before_any_parse(signature: str | None, error: type) -> None:
    body = b"a=" + b"%41" * (BIG // 3)
    big = source("twilio", secrets=[TOKEN], public_url=PUBLIC, max_body_bytes=2 * BIG)
    request = inbound(body, {"x-twilio-signature": signature}, content_type=FORM)
    tracemalloc.start()
    try:
        with pytest.raises(error):
            big.verify(request, NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak  # nothing proportional to the body


@pytest.mark.parametrize("body", [
    pytest.param(b"a=" + b"%41" * (BIG // 3), id="percent-escapes"),
    pytest.param(b"a=" + b"%C3%A9" * (BIG // 6), id="utf8-escapes"),
    pytest.param(b"&".join([b"k" * 3000 + b"=" + b"%41" * 1000] * 999), id="many-fields"),
    pytest.param(b"a=" + b"=" * BIG, id="literal-equals"),
])
def test_badly_signed_form_costs_a_small_multiple_of_its_size(body: bytes) -> None:
    # A well-formed signature header makes Twilio's scheme parse the form before verifying it: the
    # parse is bounded (the stdlib's parse_qs took ~80x the body on %41%41...).
    big = source("twilio", secrets=[TOKEN], public_url=PUBLIC, max_body_bytes=2 * len(body))
    request = inbound(body, {"x-twilio-signature": sign(fresh_secret().encode(), PUBLIC, {})}, content_type=FORM)
    tracemalloc.start()
    try:
        with pytest.raises(BadSignature, match="no token matches"):
            big.verify(request, NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * len(body), peak / len(body)


@pytest.mark.parametrize("body", [
    pytest.param(b"a=%", id="lone-percent"),
    pytest.param(b"a=%zz", id="bad-escape"),
    pytest.param(b"a=%FF", id="not-utf8"),
    pytest.param("a=é".encode(), id="not-ascii"),
    pytest.param(b"&".join([b"a=1"] * 1001), id="too-many-fields"),
])
def test_malformed_form_with_a_signature_is_unverified_not_malformed(body: bytes) -> None:
    # No valid signature can cover a body that is not a form: 401, not 400 (an unsigned caller
    # learns nothing about how its body parses).
    request = inbound(body, {"x-twilio-signature": sign(TOKEN.encode(), PUBLIC, {})}, content_type=FORM)
    with pytest.raises(BadSignature, match="not a form Twilio could have signed"):
        SOURCE.verify(request, NOW)


def test_default_body_limit() -> None:
    assert source("twilio", secrets=[TOKEN]).max_body_bytes == 1024 * 1024


@pytest.mark.parametrize("query", [
    pytest.param("name=O'Brien", id="apostrophe-as-sent"),
    pytest.param("a=%27&b=%20x", id="escapes-as-sent"),
    pytest.param("b=2&a=1", id="order-as-sent"),
])
def test_the_query_is_signed_as_sent(query: str) -> None:
    # Twilio signs the URL exactly as it called it; re-encoding the query (as WHATWG URL parsers
    # do, twilio-node issue 1183) breaks valid signatures.
    assert SOURCE.verify(form_request(query=query), NOW).event == "received"
