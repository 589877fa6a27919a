"""One minimal reproducer per known airhook issue (known_issues.py), each a strict xfail: when the
fix lands, the test passes, strict turns that into a failure, and the issue's entry and its
``xfail`` mark are deleted together (the property suites then enforce the fix)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Iterator

import pytest

from airhook.airflow.client import AirflowClient
from airhook.config import AirflowConfig, AuthConfig
from airhook.errors import AirflowAuthError
from airhook.routing import Trigger
from tests.stubs import Recorded, stub_server
from tools.function_server import FunctionServer

from .harness import NOW, Harness
from .known_issues import KNOWN_ISSUES
from .profiles import PROFILES
from .rawhttp import build, send

ISSUES = {issue.id: issue for issue in KNOWN_ISSUES}


def xfail(issue_id: str) -> pytest.MarkDecorator:
    issue = ISSUES[issue_id]
    return pytest.mark.xfail(strict=True, reason=f"{issue_id}: {issue.title} -- fix: {issue.fix}")


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


@xfail("K1-content-length")
@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000])
def test_k1_odd_content_length_is_not_a_500(harness: Harness, length: str) -> None:
    response = harness.receiver.handle("POST", "/r-github", {"content-length": length}, lambda n: b"{}")
    assert response.status < 500


@xfail("K2-surrogate-delivery-id")
def test_k2_lone_surrogate_delivery_id_is_not_a_500(harness: Harness) -> None:
    profile = PROFILES["r-stripe"]
    body = json.dumps({"id": "evt_\ud800", "type": "invoice.paid"}).encode()
    response = harness.handle(profile.build("x", NOW, body=body))
    assert response.status < 500


@xfail("K3-route-error-leaks-payload")
def test_k3_route_errors_do_not_log_payload_values() -> None:
    from .test_bad_input import ROUTING_DOCUMENT

    harness = Harness(ROUTING_DOCUMENT)
    body = json.dumps({"action": "typed", "x": "PAYLOAD-VALUE-1234", "tags": []}).encode()
    response = harness.handle(PROFILES["r-token"].build("x", NOW, body=body))
    assert response.status == 422
    assert "PAYLOAD-VALUE-1234" not in harness.buffer.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[FunctionServer]:
    document = {"airflow": {"url": "http://127.0.0.1:9", "api": "v2"},
                "sources": {"small": {"type": "github", "secrets": ["k-secret-value"], "max_body_bytes": 1024}},
                "routes": [{"name": "r", "source": "small", "dag_id": "d"}]}
    with FunctionServer(json.dumps(document)) as fn:
        yield fn


@xfail("K4-body-read-error-is-500")
def test_k4_unreadable_chunked_body_is_a_400(server: FunctionServer) -> None:
    data = (b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    assert send(server.port, data, timeout=5).status == 400


@xfail("K5-refused-body-still-buffered")
def test_k5_oversized_content_length_is_refused_at_once(server: FunctionServer) -> None:
    data = build("POST", "/small", [("Content-Type", "application/json")], b"", framing="none")
    data = data.replace(b"\r\n\r\n", b"\r\nContent-Length: 100000000000000000000\r\n\r\n")
    response = send(server.port, data, timeout=3)
    assert response.status == 413


# ------------------------------------------------------------------------------------ Airflow JWT


def jwt(lifetime: int) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    now = int(time.time())
    return f"{part({'alg': 'HS512'})}.{part({'iat': now, 'exp': now + lifetime, 'sub': 'admin'})}.sig"


TRIGGER = Trigger(route="r", dag_id="d", dag_run_id="run-1", conf={})


def client_for(url: str) -> AirflowClient:
    return AirflowClient(AirflowConfig(url=url, api="v2", auth=AuthConfig("airflow-jwt", username="u",
                                                                           password="p")))


KNOWN_ISSUES_EXTRA = {
    "K6-short-jwt-fetched-per-request": (
        "Airflow tokens living 60 s or less (api_auth.jwt_expiration_time) are renewed before "
        "every request: AirflowJwtAuth subtracts EXPIRY_MARGIN = 60 s from exp, so the token is "
        "already due when fetched (5 triggers -> 5 POST /auth/token)",
        "auth.py _fetch: margin = min(EXPIRY_MARGIN, (exp - iat or exp - now) / 4)"),
    "K7-invalid-jwt-403-not-refreshed": (
        "Airflow 3 answers 403 'Invalid JWT token' (not 401) to a token it cannot verify, e.g. "
        "after its JWT secret changed on an api-server restart (seen on the real Airflow 3.3.2 "
        "in test_faults); airhook refreshes only on 401, so every delivery is a 502 "
        "airflow_auth_failed until its cached token's own expiry (24 h by default)",
        "transport HttpTransport.request: also refresh once on 403 when the auth can refresh "
        "(if reply.status in (401, 403) and self.auth.refresh(): retry); a 403 that survives "
        "the refresh is a real permission error"),
}


def xfail_extra(issue_id: str) -> pytest.MarkDecorator:
    title, fix = KNOWN_ISSUES_EXTRA[issue_id]
    return pytest.mark.xfail(strict=True, reason=f"{issue_id}: {title} -- fix: {fix}")


@xfail_extra("K6-short-jwt-fetched-per-request")
def test_k6_a_30s_token_is_fetched_once_for_several_triggers() -> None:
    def answer(request: Recorded) -> tuple[int, Any]:
        if request.path == "/auth/token":
            return 201, {"access_token": jwt(30)}
        return 200, {"state": "queued"}

    with stub_server(answer) as stub:
        client = client_for(stub.url)
        for _ in range(5):
            client.trigger(TRIGGER)
        assert stub.paths("POST").count("/auth/token") == 1


@xfail_extra("K7-invalid-jwt-403-not-refreshed")
def test_k7_a_403_invalid_jwt_is_refreshed_once() -> None:
    state = {"secret_rotated": True}

    def answer(request: Recorded) -> tuple[int, Any]:
        if request.path == "/auth/token":
            state["secret_rotated"] = False
            return 201, {"access_token": jwt(3600)}
        if state["secret_rotated"]:
            return 403, {"detail": "Invalid JWT token"}
        return 200, {"state": "queued"}

    with stub_server(answer) as stub:
        client = client_for(stub.url)
        client.trigger(TRIGGER)             # first token
        state["secret_rotated"] = True      # Airflow restarted with a new JWT secret
        try:
            outcome = client.trigger(TRIGGER)
        except AirflowAuthError as exc:
            pytest.fail(f"502 airflow_auth_failed: {exc.detail}")
        assert outcome.status == "queued"
