"""The Airflow client's request bodies, version detection and answer mapping, against a loopback
stand-in (real Airflow 2 and 3 answers are checked in tests/integration)."""

from __future__ import annotations

import base64
import json
import socket
import time
from typing import Any

import pytest

from airhook.airflow.auth import AirflowJwtAuth
from airhook.airflow.client import AirflowClient, request_body
from airhook.airflow.transport import make_pool
from airhook.config import AirflowConfig, AuthConfig
from airhook.errors import (AirflowAuthError, AirflowRejected, AirflowServerError, AirflowUnavailable,
                            DagNotFound)
from airhook.routing import Trigger
from tests.stubs import Recorded, StubServer, scripted, stub_server

TRIGGER = Trigger(route="r", dag_id="deploy", dag_run_id="airhook__github__r__d-1", conf={"sha": "abc"},
                  note="n")


def client_for(url: str, api: str = "v2", auth: AuthConfig = AuthConfig("none")) -> AirflowClient:
    return AirflowClient(AirflowConfig(url=url, api=api, auth=auth, timeout=2))


def jwt(exp: float) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS512'})}.{part({'sub': '1', 'exp': exp})}.sig"


@pytest.mark.parametrize("api, expected", [
    ("v1", {"dag_run_id": TRIGGER.dag_run_id, "conf": {"sha": "abc"}, "note": "n"}),
    ("v2", {"dag_run_id": TRIGGER.dag_run_id, "conf": {"sha": "abc"}, "note": "n", "logical_date": None}),
])
def test_request_bodies(api: str, expected: dict[str, Any]) -> None:
    assert request_body(TRIGGER, api) == expected


@pytest.mark.parametrize("status, body, outcome", [
    (200, {"state": "queued"}, "queued"),
    (201, {}, "queued"),
    (409, {"detail": "Unique constraint violation"}, "duplicate"),
])
def test_success_answers(status: int, body: Any, outcome: str) -> None:
    with stub_server(scripted((status, body))) as airflow:
        assert client_for(airflow.url).trigger(TRIGGER).status == outcome
        [request] = airflow.requests
        assert request.path == "/api/v2/dags/deploy/dagRuns"
        assert request.headers["content-type"] == "application/json"
        assert request.json()["logical_date"] is None


@pytest.mark.parametrize("status, body, error", [
    (404, {"detail": "DAG not found"}, DagNotFound),
    (400, {"detail": "bad"}, AirflowRejected),
    (422, {"detail": [{"loc": ["body", "x"], "msg": "extra", "input": "PAYLOAD"}]}, AirflowRejected),
    (403, {"detail": "forbidden"}, AirflowAuthError),
    (500, {"detail": "Database error"}, AirflowServerError),
    (503, "down", AirflowServerError),
    (429, {}, AirflowServerError),
])
def test_failure_answers(status: int, body: Any, error: type) -> None:
    with stub_server(scripted((status, body))) as airflow:
        with pytest.raises(error) as caught:
            client_for(airflow.url).trigger(TRIGGER)
        assert caught.value.airflow_status == status
        assert "PAYLOAD" not in caught.value.detail  # Airflow 3 echoes input in 422s


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AirflowUnavailable):
        client_for(f"http://127.0.0.1:{port}").trigger(TRIGGER)


def test_timeout_is_unavailable() -> None:
    def slow(_: Recorded) -> tuple[int, Any]:
        time.sleep(3)
        return 200, {}
    with stub_server(slow) as airflow:
        client = AirflowClient(AirflowConfig(url=airflow.url, api="v2", timeout=0.3))
        with pytest.raises(AirflowUnavailable, match="Timeout"):
            client.trigger(TRIGGER)


@pytest.mark.parametrize("answers, api", [
    ([(200, {"version": "3.3.2"})], "v2"),
    ([(401, {})], "v2"),
    ([(404, {}), (200, {"version": "2.11.2"})], "v1"),
])
def test_api_auto_detection_asks_once(answers: list[tuple[int, Any]], api: str) -> None:
    with stub_server(scripted(*answers)) as airflow:
        client = client_for(airflow.url, api="auto")
        client.trigger(TRIGGER)
        client.trigger(TRIGGER)
        assert client.api() == api
        versions = [p for p in airflow.paths("GET") if p.endswith("/version")]
        assert len(versions) == len(answers)
        assert airflow.paths("POST") == [f"/api/{api}/dags/deploy/dagRuns"] * 2


def test_api_auto_detection_fails_clearly() -> None:
    with stub_server(scripted((404, {}), (404, {}))) as airflow:
        with pytest.raises(AirflowRejected, match="neither"):
            client_for(airflow.url, api="auto").trigger(TRIGGER)


def test_jwt_is_fetched_once_and_refreshed_once_on_401() -> None:
    def airflow_handler(request: Recorded) -> tuple[int, Any]:
        if request.path == "/auth/token":
            assert request.json() == {"username": "admin", "password": "pw"}
            return 201, {"access_token": jwt(time.time() + 3600)}
        if len([r for r in airflow.requests if r.path.endswith("dagRuns")]) == 3:
            return 401, {"detail": "Token Expired"}  # the third trigger finds the token revoked
        return 200, {}

    airflow = StubServer(airflow_handler).start()
    try:
        client = client_for(airflow.url, auth=AuthConfig("airflow-jwt", username="admin", password="pw"))
        for _ in range(4):
            assert client.trigger(TRIGGER).status == "queued"
        assert airflow.paths() == ["/auth/token"] + ["/api/v2/dags/deploy/dagRuns"] * 3 + \
            ["/auth/token"] + ["/api/v2/dags/deploy/dagRuns"] * 2
        assert all(r.headers["authorization"].startswith("Bearer ") for r in airflow.requests if r.path.endswith("dagRuns"))
    finally:
        airflow.stop()


def test_jwt_is_refreshed_before_it_expires() -> None:
    now = [1000.0]
    with stub_server(lambda r: (201, {"access_token": jwt(now[0] + 120)})) as airflow:
        auth = AirflowJwtAuth(airflow.url, "u", "p", make_pool(), 2, clock=lambda: now[0])
        auth.headers()
        now[0] += 30
        auth.headers()
        assert auth.fetches == 1
        now[0] += 65  # within the margin before expiry: a quarter of its 120 s life
        auth.headers()
        assert auth.fetches == 2


@pytest.mark.parametrize("status, error", [(401, AirflowAuthError), (500, AirflowServerError), (200, AirflowAuthError)])
def test_jwt_fetch_failures(status: int, error: type) -> None:
    with stub_server(scripted((status, {"detail": "no"}))) as airflow:
        client = client_for(airflow.url, auth=AuthConfig("airflow-jwt", username="u", password="p"))
        with pytest.raises(error):
            client.trigger(TRIGGER)


def test_basic_and_bearer_headers() -> None:
    with stub_server(scripted()) as airflow:
        client_for(airflow.url, auth=AuthConfig("basic", username="admin", password="pw")).trigger(TRIGGER)
        client_for(airflow.url, auth=AuthConfig("bearer", token="tok")).trigger(TRIGGER)
        assert [r.headers["authorization"] for r in airflow.requests] == [
            "Basic " + base64.b64encode(b"admin:pw").decode(), "Bearer tok"]


# ---------------------------------------------------------------------------- retries and deadlines


def test_5xx_and_outages_are_retried_within_the_deadline() -> None:
    with stub_server(scripted((503, {}), (500, {"detail": "Database error"}), (429, {}), (200, {}))) as airflow:
        client = client_for(airflow.url)
        assert client.trigger(TRIGGER, deadline=time.monotonic() + 10).status == "queued"
        assert airflow.paths() == ["/api/v2/dags/deploy/dagRuns"] * 4


@pytest.mark.parametrize("status, error", [(404, DagNotFound), (400, AirflowRejected), (403, AirflowAuthError)])
def test_4xx_are_not_retried(status: int, error: type) -> None:
    with stub_server(scripted((status, {}))) as airflow:
        with pytest.raises(error):
            client_for(airflow.url).trigger(TRIGGER, deadline=time.monotonic() + 10)
        assert len(airflow.requests) == 1


def test_without_a_deadline_one_attempt() -> None:
    with stub_server(scripted((503, {}))) as airflow:
        with pytest.raises(AirflowServerError):
            client_for(airflow.url).trigger(TRIGGER)
        assert len(airflow.requests) == 1


def test_deadline_runs_out_with_the_last_error() -> None:
    with stub_server(scripted(default=(503, {"detail": "down"}))) as airflow:
        started = time.monotonic()
        with pytest.raises(AirflowServerError, match="503"):
            client_for(airflow.url).trigger(TRIGGER, deadline=started + 1.5)
        assert time.monotonic() - started < 2.5
        assert len(airflow.requests) >= 2


def test_attempt_timeout_shrinks_to_the_deadline() -> None:
    def slow(_: Recorded) -> tuple[int, Any]:
        time.sleep(2)
        return 200, {}
    with stub_server(slow) as airflow:
        client = AirflowClient(AirflowConfig(url=airflow.url, api="v2", timeout=8))
        started = time.monotonic()
        with pytest.raises(AirflowUnavailable):
            client.trigger(TRIGGER, deadline=started + 0.8)
        assert time.monotonic() - started < 1.8


def test_forbidden_names_the_missing_permission() -> None:
    with stub_server(scripted((403, {"detail": "Forbidden"}))) as airflow:
        with pytest.raises(AirflowAuthError, match="needs a role that may trigger"):
            client_for(airflow.url, auth=AuthConfig("basic", username="u", password="p")).trigger(TRIGGER)
