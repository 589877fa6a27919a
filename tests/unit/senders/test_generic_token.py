"""The generic ``token`` type: Bearer tokens and custom headers, constant-time, redacted."""

from __future__ import annotations

from typing import Any

import pytest

from airhook.errors import BadSignature, ConfigError, MissingSignature

from .support import DROP, NOW, fresh_secret, inbound, source

TOKEN = fresh_secret()
OLD_TOKEN = fresh_secret()
BEARER = source("token", tokens=[TOKEN, OLD_TOKEN], event={"body": "action"}, delivery_id={"header": "X-Request-Id"})
CUSTOM = source("token", tokens=[TOKEN], header="X-Api-Key")


@pytest.mark.parametrize("token", [TOKEN, OLD_TOKEN])
def test_bearer_and_rotation(token: str) -> None:
    delivery = BEARER.verify(inbound(b'{"action": "backfill", "date": "2024-01-01"}',
                                     {"authorization": f"Bearer {token}", "x-request-id": "r-1"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("backfill", "r-1")
    assert "authorization" not in delivery.headers


def test_scheme_is_case_insensitive_and_spaces_tolerated() -> None:
    BEARER.verify(inbound(b'{"action": "a"}', {"authorization": f"  bearer {TOKEN} "}), NOW)


@pytest.mark.parametrize("value, error, message", [
    (DROP, MissingSignature, "missing authorization"),
    (TOKEN, MissingSignature, "'Bearer <token>'"),
    (f"Basic {TOKEN}", MissingSignature, "'Bearer <token>'"),
    ("Bearer ", MissingSignature, "'Bearer <token>'"),
    (f"Bearer {TOKEN}x", BadSignature, "matches no configured token"),
    (f"Bearer {TOKEN[:-1]}", BadSignature, "matches no configured token"),
    ("Bearer é", BadSignature, "matches no configured token"),
])
def test_tamper_matrix(value: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        BEARER.verify(inbound(b'{"action": "a"}', {"authorization": value}), NOW)


def test_custom_header_without_scheme() -> None:
    delivery = CUSTOM.verify(inbound(b"", {"x-api-key": TOKEN}, content_type=None), NOW)
    assert (delivery.event, delivery.body, delivery.headers) == ("manual", {}, {})
    with pytest.raises(BadSignature):
        CUSTOM.verify(inbound(b"", {"x-api-key": f"Bearer {TOKEN}"}), NOW)


def test_the_error_never_contains_the_presented_or_configured_token() -> None:
    with pytest.raises(BadSignature) as caught:
        BEARER.verify(inbound(b"{}", {"authorization": f"Bearer {TOKEN}zz"}), NOW)
    assert TOKEN not in str(caught.value) and TOKEN not in caught.value.detail


@pytest.mark.parametrize("options, message", [
    ({}, "tokens: expected a list"),
    ({"tokens": [""]}, "at least one"),
    ({"tokens": [TOKEN], "scheme": 1}, "scheme"),
    ({"tokens": [TOKEN], "secrets": [TOKEN]}, "unknown key"),
])
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source("token", **options)


@pytest.mark.parametrize("target, headers", [
    pytest.param(BEARER, {"authorization": f"Bearer {TOKEN}"}, id="bearer"),
    pytest.param(CUSTOM, {"x-api-key": TOKEN, "authorization": "Basic dTpw"}, id="custom-header"),
])
def test_credentials_never_reach_routes(target: Any, headers: dict[str, str]) -> None:
    sent = {**headers, "cookie": "a=b", "proxy-authorization": "Basic eDp5", "x-request-id": "r-2"}
    delivery = target.verify(inbound(b'{"action": "backfill"}', sent), NOW)
    assert not {"authorization", "x-api-key", "cookie", "proxy-authorization"} & set(delivery.headers)
    assert delivery.headers["x-request-id"] == "r-2"
