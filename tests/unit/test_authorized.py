"""airhook.authorized against loopback servers: the one refresh-once-on-401 (and rate-limited 403),
and Google credentials loaded by google-auth from a real service-account key whose token endpoint
is a loopback stand-in (tests/google_fakes.py)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from airhook.authorized import AuthorizedHttp, GoogleCredentials
from airhook.httpconn import Http, Unreachable
from tests.google_fakes import TokenEndpoint, service_account_key
from tests.stubs import Answer, scripted, stub_server


class Tokens:
    """Credentials whose token changes on each refresh (``refreshable``), or never."""

    def __init__(self, refreshable: bool = True) -> None:
        self.refreshable = refreshable
        self.generation = 1

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer token-{self.generation}"}

    def refresh(self) -> bool:
        if self.refreshable:
            self.generation += 1
        return self.refreshable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CASES = [
    # (answers, refreshable, refresh_on_403_every, final status, Authorization headers sent)
    ([(401, {}), (200, {})], True, None, 200, ["Bearer token-1", "Bearer token-2"]),
    # a second 401 with a fresh token is the answer: once only
    ([(401, {}), (401, {})], True, None, 401, ["Bearer token-1", "Bearer token-2"]),
    # fixed credentials: nothing to refresh, the 401 stands
    ([(401, {}), (200, {})], False, None, 401, ["Bearer token-1"]),
    # a 403 is a permission error unless asked otherwise
    ([(403, {}), (200, {})], True, None, 403, ["Bearer token-1"]),
    ([(403, {}), (200, {})], True, 60.0, 200, ["Bearer token-1", "Bearer token-2"]),
    # success and other refusals are never resent
    ([(200, {})], True, 60.0, 200, ["Bearer token-1"]),
    ([(404, {}), (200, {})], True, 60.0, 404, ["Bearer token-1"]),
    ([(500, {}), (200, {})], True, 60.0, 500, ["Bearer token-1"]),
]


@pytest.mark.parametrize("answers, refreshable, every_403, status, sent", CASES)
def test_a_refused_token_is_refreshed_once(answers: list[Answer], refreshable: bool,
                                           every_403: float | None, status: int, sent: list[str]) -> None:
    with stub_server(scripted(*answers)) as server:
        http = AuthorizedHttp(Http(), Tokens(refreshable), refresh_on_403_every=every_403)
        reply = http.request("POST", server.url + "/api/v2/dags/d/dagRuns", timeout=5, body=b'{"a":1}',
                             headers={"Content-Type": "application/json"})
        assert reply.status == status
        assert [r.headers["authorization"] for r in server.requests] == sent
        # the resent request is the same request
        assert {(r.method, r.path, r.body, r.headers["content-type"]) for r in server.requests} == {
            ("POST", "/api/v2/dags/d/dagRuns", b'{"a":1}', "application/json")}
        assert http.refreshes == len(sent) - 1


def test_a_403_refreshes_at_most_once_per_interval() -> None:
    clock = Clock()
    with stub_server(scripted(default=(403, {}))) as server:
        http = AuthorizedHttp(Http(), Tokens(), refresh_on_403_every=60.0, clock=clock)
        for advance in (0, 10, 49, 2):  # at 1000, 1010, 1059, 1061
            clock.now += advance
            assert http.request("GET", server.url + "/x", timeout=5).status == 403
        # refreshed at 1000 and at 1061 (61 s later), not in between
        assert [r.headers["authorization"] for r in server.requests] == [
            "Bearer token-1", "Bearer token-2", "Bearer token-2", "Bearer token-2",
            "Bearer token-2", "Bearer token-3"]


def test_unreachable_passes_through() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unreachable, match="ConnectionRefusedError"):
        AuthorizedHttp(Http(), Tokens()).request("GET", f"http://127.0.0.1:{port}/x", timeout=2)


# ---------------------------------------------------------------------------------- Google


class Unavailable(Exception):
    pass


class Refused(Exception):
    pass


def google(pool: Http) -> GoogleCredentials:
    return GoogleCredentials(["https://www.googleapis.com/auth/cloud-platform"], pool,
                             unavailable=Unavailable, refused=Refused)


def test_google_credentials_fetch_once_and_refresh_on_request(tmp_path: Path) -> None:
    endpoint = TokenEndpoint("ya29.first", delay=0.1)
    with stub_server(endpoint) as tokens:
        key = tmp_path / "key.json"
        endpoint.public_pem = service_account_key(key, tokens.url + "/token")
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
        credentials = google(Http())
        headers: list[Mapping[str, str]] = []
        threads = [threading.Thread(target=lambda: headers.append(credentials.headers())) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [h["authorization"] for h in headers] == ["Bearer ya29.first"] * 6
        assert len(endpoint.assertions) == 1  # concurrent first requests: one token
        assert endpoint.assertions[0]["scope"] == "https://www.googleapis.com/auth/cloud-platform"

        endpoint.access_token = "ya29.second"
        assert credentials.refresh() is True
        assert credentials.headers()["authorization"] == "Bearer ya29.second"
        assert len(endpoint.assertions) == 2


def test_google_credentials_behind_authorized_http(tmp_path: Path) -> None:
    endpoint = TokenEndpoint("ya29.revoked", delay=0)
    with stub_server(endpoint) as tokens, \
            stub_server(lambda r: (401, {}) if r.headers["authorization"] == "Bearer ya29.revoked"
                        else (200, {"ok": True})) as api:
        key = tmp_path / "key.json"
        endpoint.public_pem = service_account_key(key, tokens.url + "/token")
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
        pool = Http()
        credentials = google(pool)
        credentials.headers()
        endpoint.access_token = "ya29.new"
        reply = AuthorizedHttp(pool, credentials).request("GET", api.url + "/v1/x", timeout=5)
        assert reply.json() == {"ok": True}
        assert [r.headers["authorization"] for r in api.requests] == ["Bearer ya29.revoked", "Bearer ya29.new"]


def test_google_token_endpoint_unreachable_is_the_caller_s_unavailable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = tmp_path / "key.json"
    service_account_key(key, f"http://127.0.0.1:{port}/token?secret=x")
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
    with pytest.raises(Unavailable, match="Google token endpoint unreachable: .*ConnectionRefusedError") as caught:
        google(Http()).headers()
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("setup, message", [
    ("missing file", "DefaultCredentialsError"),
    ("refused grant", "RefreshError"),
])
def test_other_google_failures_are_the_caller_s_refused(tmp_path: Path, setup: str, message: str) -> None:
    def refuse(_: Any) -> Answer:
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}

    with stub_server(refuse) as tokens:
        key = tmp_path / "key.json"
        if setup == "refused grant":
            service_account_key(key, tokens.url + "/token")
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
        with pytest.raises(Refused, match=message):
            google(Http()).headers()


def test_google_refresh_before_any_token_has_nothing_to_forget() -> None:
    assert google(Http()).refresh() is False
