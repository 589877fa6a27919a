"""What every sender type shares: the registry, redaction, 401-never-500 on hostile headers, and
the helpers the types share (airhook.senders.options, .signatures, .timestamps, .request, .locators)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airhook.delivery import Inbound
from airhook.errors import ConfigError, MalformedRequest, MissingSignature, TimestampOutOfWindow, VerificationError
from airhook.senders import _TYPES, build_source, types
from airhook.senders.locators import locator_option
from airhook.senders.request import signed_url
from airhook.senders.signatures import decode_base64, tokens_match
from airhook.senders.timestamps import check_window, parse_unix_timestamp

from .support import NOW, inbound, source

#: A fresh secret that is also valid base64 after its prefix, so standard-webhooks takes it too.
SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()

#: The smallest valid config of every type, each holding SECRET where it takes a secret.
MINIMAL: dict[str, dict[str, Any]] = {
    "bitbucket": {"secrets": [SECRET]},
    "github": {"secrets": [SECRET]},
    "gitlab": {"tokens": [SECRET], "signing_tokens": [SECRET]},
    "google-oidc": {"audience": "https://a.example", "service_accounts": ["sa@p.iam.gserviceaccount.com"],
                    "certs_url": "http://127.0.0.1:9/certs"},
    "hmac": {"secrets": [SECRET], "header": "X-Sig", "timestamp_header": "X-Ts"},
    "hubspot": {"secrets": [SECRET]},
    "jira": {"secrets": [SECRET]},
    "linear": {"secrets": [SECRET]},
    "pagerduty": {"secrets": [SECRET]},
    "shopify": {"secrets": [SECRET]},
    "slack": {"secrets": [SECRET]},
    "standard-webhooks": {"secrets": [SECRET]},
    "stripe": {"secrets": [SECRET]},
    "svix": {"secrets": [SECRET]},
    "token": {"tokens": [SECRET]},
    "twilio": {"secrets": [SECRET]},
    "zendesk": {"secrets": [SECRET]},
}
SOURCES = {kind: source(kind, **options) for kind, options in MINIMAL.items()}

#: Every credential header any type reads.
HEADERS = ["stripe-signature", "x-slack-signature", "x-slack-request-timestamp", "webhook-id",
           "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature",
           "x-gitlab-token", "x-hub-signature", "x-hub-signature-256", "x-shopify-hmac-sha256",
           "linear-signature", "x-pagerduty-signature", "x-zendesk-webhook-signature",
           "x-zendesk-webhook-signature-timestamp", "x-hubspot-signature-v3", "x-hubspot-request-timestamp",
           "x-twilio-signature", "x-twilio-webhooks-signature-settings", "authorization", "x-sig", "x-ts"]


def test_every_type_is_covered_here() -> None:
    assert set(MINIMAL) == set(types()) == set(_TYPES)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_sources_carry_their_name_and_type_and_hide_secrets(kind: str) -> None:
    built = SOURCES[kind]
    assert (built.name, built.type) == ("src", kind) and built.max_body_bytes > 0
    assert SECRET not in repr(built) and SECRET[6:] not in repr(built)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_unknown_keys_are_refused_by_every_type(kind: str) -> None:
    with pytest.raises(ConfigError, match=r"sources\.src: unknown key\(s\) secret_typo"):
        source(kind, **MINIMAL[kind], secret_typo="x")


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_an_unsigned_request_is_a_401(kind: str) -> None:
    with pytest.raises(VerificationError):
        SOURCES[kind].verify(inbound(b'{"type": "x"}', {}), NOW)


header_values = st.one_of(st.none(), st.text(max_size=80), st.sampled_from(
    ["", "v1=", "t=1,v1=zz", "v1,", "sha256=", "Bearer ", "Bearer a.b.c", str(NOW), str(NOW * 1000),
     "v0=" + "0" * 64, "v1," + "A" * 44, "é" * 10, "\x00", "t=" + str(NOW) + ",v1=" + "0" * 64]))


@pytest.mark.parametrize("kind", sorted(MINIMAL))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.fixed_dictionaries({name: header_values for name in HEADERS}), body=st.binary(max_size=64),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
def test_hostile_headers_are_401_never_anything_else(kind: str, values: dict[str, Any], body: bytes,
                                                     content_type: str) -> None:
    request = inbound(body, values, content_type=content_type)
    with pytest.raises(VerificationError):
        SOURCES[kind].verify(request, NOW)


def test_sender_modules_import_no_sdk_and_no_google_auth() -> None:
    code = ("import sys, importlib; from airhook.senders import _TYPES\n"
            "[importlib.import_module(m) for m in _TYPES.values()]\n"
            "bad = ('stripe', 'slack_sdk', 'standardwebhooks', 'svix', 'twilio', 'hubspot', 'google.auth', 'requests')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in bad or m.startswith('google.auth')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("timestamp, ok", [(NOW, True), (NOW - 300, True), (NOW + 300, True),
                                           (NOW - 301, False), (NOW + 301, False)])
def test_window_is_checked_in_both_directions(timestamp: int, ok: bool) -> None:
    if ok:
        check_window(timestamp, NOW, 300, "t")
    else:
        with pytest.raises(TimestampOutOfWindow):
            check_window(timestamp, NOW, 300, "t")


@pytest.mark.parametrize("value, result", [
    ("1700000000", 1700000000.0), ("0", 0.0), (None, MissingSignature), ("", MissingSignature),
    ("-1", VerificationError), ("1.5", VerificationError), (" 1", VerificationError), ("1e9", VerificationError),
    ("١٢٣", VerificationError), ("9" * 17, VerificationError),
])
def test_parse_unix_timestamp(value: Any, result: Any) -> None:
    if isinstance(result, float):
        assert parse_unix_timestamp(value, "h") == result
    else:
        with pytest.raises(result):
            parse_unix_timestamp(value or None, "h")


def test_millisecond_timestamps() -> None:
    assert parse_unix_timestamp("1700000000123", "h", millis=True) == 1700000000.123


@pytest.mark.parametrize("value, result", [
    ("aGVsbG8=", b"hello"), ("aGVsbG8", b"hello"), (" aGVsbG8= ", b"hello"),
    ("aGVs bG8=", None), ("aGVsbG8*", None), ("", None), ("é", None), ("aGVsbG8-", None),
])
def test_decode_base64_is_strict(value: str, result: bytes | None) -> None:
    assert decode_base64(value) == result


def test_tokens_match() -> None:
    assert tokens_match([b"a", b"secret"], "secret")
    assert not tokens_match([b"secret"], "secre") and not tokens_match([b"secret"], None)
    assert not tokens_match([b"secret"], "\ud800")


@pytest.mark.parametrize("headers, url, query, public, expected", [
    ({}, "http://fn.internal/twilio?a=1", "a=1", "https://hooks.example.com/twilio",
     "https://hooks.example.com/twilio?a=1"),
    ({"x-forwarded-proto": "https", "host": "hooks.example.com"}, "http://hooks.example.com/twilio/", "", None,
     "https://hooks.example.com/twilio/"),
    ({"x-forwarded-proto": "https, http", "x-forwarded-host": "public.example, internal"},
     "http://internal:8080/p", "q=1", None, "https://public.example/p?q=1"),
    ({}, "", "", None, "https:///src"),
])
def test_signed_url(headers: dict[str, str], url: str, query: str, public: str | None, expected: str) -> None:
    request = Inbound("POST", "/src", headers, b"", query=query, url=url)
    assert signed_url(request, public) == expected


def test_locators() -> None:
    request = inbound(b"", {"x-kind": "k"})
    body = {"a": {"b": "deep", "n": 3, "t": True}}
    assert locator_option({"e": {"header": "X-Kind"}}, "e", "w").find(request, body) == "k"
    assert locator_option({"e": {"body": "a.b"}}, "e", "w").find(request, body) == "deep"
    assert locator_option({"e": {"body": "a.n"}}, "e", "w").find(request, body) == "3"
    assert locator_option({"e": {"body": "a.t"}}, "e", "w").find(request, body) is None
    assert locator_option({"e": {"body": "a.missing"}}, "e", "w").find(request, body) is None
    assert locator_option({"e": {"body": "starts_with(a, 'x')"}}, "e", "w").find(request, "text") is None
    assert locator_option({"e": {"value": "v"}}, "e", "w").find(request, body) == "v"
    assert locator_option({}, "e", "w") is None
    with pytest.raises(ConfigError, match="w.e: expected a mapping"):
        locator_option({"e": "header:X"}, "e", "w")


def test_body_parse_errors_after_verification_are_400_not_401() -> None:
    # the hostile-header property above relies on verification coming first; here a verified
    # request with a bad body is a 400
    token_source = build_source("t", {"type": "token", "tokens": [SECRET]}, "sources.t")
    with pytest.raises(MalformedRequest):
        token_source.verify(inbound(b"{bad", {"authorization": f"Bearer {SECRET}"}), NOW)
