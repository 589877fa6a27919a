"""The Airflow client's request bodies, version detection and answer mapping, against a loopback
stand-in (real Airflow 2 and 3 answers are checked in tests/integration)."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from airhook.airflow.auth import AirflowJwtAuth, GoogleAuth
from airhook.airflow.client import (
    PAUSED_TIMEOUT,
    AirflowClient,
    HttpTransport,
    Outcome,
    Probe,
    build_transport,
    classify,
    parse_version,
    redact,
    request_body,
)
from airhook.airflow.composer import ComposerTransport
from airhook.airflow.paused import PAUSED_TTL
from airhook.airflow.transport import Reply, make_pool
from airhook.config import AirflowConfig, AuthConfig
from airhook.deliver import permanent
from airhook.errors import (
    AirflowAuthError,
    AirflowError,
    AirflowRejected,
    AirflowServerError,
    AirflowUnavailable,
    AssetNotFound,
    DagNotFound,
    RunRefused,
    TargetNotFound,
)
from airhook.routing import Trigger
from tests.stubs import Recorded, StubServer, scripted, stub_server
from tools.ports import free_port

TRIGGER = Trigger(route="r", dag_id="deploy", dag_run_id="airhook__github__r__d-1", conf={"sha": "abc"},
                  note="n")


def is_dag_lookup(request: Recorded) -> bool:
    """``GET /api/v*/dags/{id}``: the client's paused check, answered aside in these tests."""
    return request.method == "GET" and re.fullmatch(r"/api/v\d/dags/[^/?]+", request.path) is not None


def dags(handler: Any, paused: bool = False) -> Any:
    """``handler``, except that DAG lookups answer ``is_paused`` without consuming its script."""
    def answer(request: Recorded) -> tuple[int, Any]:
        if is_dag_lookup(request):
            return 200, {"dag_id": request.path.rsplit("/", 1)[1], "is_paused": paused}
        result: tuple[int, Any] = handler(request)
        return result
    return answer


def calls(airflow: StubServer) -> list[Recorded]:
    return [r for r in airflow.requests if not is_dag_lookup(r)]


def paths(airflow: StubServer, method: str | None = None) -> list[str]:
    return [r.path for r in calls(airflow) if method is None or r.method == method]


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
    with stub_server(dags(scripted((status, body)))) as airflow:
        assert client_for(airflow.url).trigger(TRIGGER).status == outcome
        [request] = calls(airflow)
        assert request.path == "/api/v2/dags/deploy/dagRuns"
        assert request.headers["content-type"] == "application/json"
        assert request.json()["logical_date"] is None


@pytest.mark.parametrize("status, body, error", [
    (404, {"detail": "DAG not found"}, DagNotFound),
    (404, {"detail": "Not Found"}, AirflowRejected),  # no such path: a wrong API, not a missing DAG
    (302, {}, AirflowAuthError),  # a front end's sign-in page
    (408, {}, AirflowServerError),
    (400, {"detail": "bad"}, AirflowRejected),
    (422, {"detail": [{"loc": ["body", "x"], "msg": "extra", "input": "PAYLOAD"}]}, AirflowRejected),
    (403, {"detail": "forbidden"}, AirflowAuthError),
    (500, {"detail": "Database error"}, AirflowServerError),
    (503, "down", AirflowServerError),
    (429, {}, AirflowServerError),
])
def test_failure_answers(status: int, body: Any, error: type) -> None:
    with stub_server(dags(scripted((status, body)))) as airflow:
        with pytest.raises(error) as caught:
            client_for(airflow.url).trigger(TRIGGER)
        # a path no route serves is not an answer about this run (queue mode retries it)
        assert caught.value.airflow_status == (None if body == {"detail": "Not Found"} else status)
        assert "PAYLOAD" not in caught.value.detail  # Airflow 3 echoes input in 422s


def test_connection_refused_is_unavailable() -> None:
    port = free_port()  # a port nobody listens on
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
    ([(404, {}), (200, {"version": "2.11.2"})], "v1"),
])
def test_api_auto_detection_asks_once(answers: list[tuple[int, Any]], api: str) -> None:
    with stub_server(dags(scripted(*answers))) as airflow:
        client = client_for(airflow.url, api="auto")
        client.trigger(TRIGGER)
        client.trigger(TRIGGER)
        assert client.api() == api
        versions = [p for p in paths(airflow, "GET") if p.endswith("/version")]
        assert len(versions) == len(answers)
        assert paths(airflow, "POST") == [f"/api/{api}/dags/deploy/dagRuns"] * 2


def test_api_auto_detection_fails_clearly() -> None:
    with stub_server(dags(scripted((404, {}), (404, {})))) as airflow:
        with pytest.raises(AirflowRejected, match="neither"):
            client_for(airflow.url, api="auto").trigger(TRIGGER)


def test_jwt_is_fetched_once_and_refreshed_once_on_401() -> None:
    def airflow_handler(request: Recorded) -> tuple[int, Any]:
        if request.path == "/auth/token":
            assert request.json() == {"username": "admin", "password": "pw"}
            return 201, {"access_token": jwt(time.time() + 3600)}
        if len([r for r in calls(airflow) if r.path.endswith("dagRuns")]) == 3:
            return 401, {"detail": "Token Expired"}  # the third trigger finds the token revoked
        return 200, {}

    airflow = StubServer(dags(airflow_handler)).start()
    try:
        client = client_for(airflow.url, auth=AuthConfig("airflow-jwt", username="admin", password="pw"))
        for _ in range(4):
            assert client.trigger(TRIGGER).status == "queued"
        assert paths(airflow) == ["/auth/token"] + ["/api/v2/dags/deploy/dagRuns"] * 3 + \
            ["/auth/token"] + ["/api/v2/dags/deploy/dagRuns"] * 2
        assert all(r.headers["authorization"].startswith("Bearer ") for r in calls(airflow) if r.path.endswith("dagRuns"))
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
    with stub_server(dags(scripted((status, {"detail": "no"})))) as airflow:
        client = client_for(airflow.url, auth=AuthConfig("airflow-jwt", username="u", password="p"))
        with pytest.raises(error):
            client.trigger(TRIGGER)


def test_basic_and_bearer_headers() -> None:
    with stub_server(dags(scripted())) as airflow:
        client_for(airflow.url, auth=AuthConfig("basic", username="admin", password="pw")).trigger(TRIGGER)
        client_for(airflow.url, auth=AuthConfig("bearer", token="tok")).trigger(TRIGGER)
        assert [r.headers["authorization"] for r in calls(airflow)] == [
            "Basic " + base64.b64encode(b"admin:pw").decode(), "Bearer tok"]


# ---------------------------------------------------------------------------- retries and deadlines


def test_5xx_and_outages_are_retried_within_the_deadline() -> None:
    with stub_server(dags(scripted((503, {}), (500, {"detail": "Database error"}), (429, {}), (200, {})))) as airflow:
        client = client_for(airflow.url)
        assert client.trigger(TRIGGER, deadline=time.monotonic() + 10).status == "queued"
        assert paths(airflow) == ["/api/v2/dags/deploy/dagRuns"] * 4


@pytest.mark.parametrize("status, body, error", [
    (404, {"detail": "DAG with dag_id: 'deploy' not found", "title": "DAG not found"}, DagNotFound),
    (404, {"detail": "The Dag with ID: `deploy` was not found"}, DagNotFound),
    (400, {}, AirflowRejected),
    (403, {}, AirflowAuthError),
])
def test_4xx_are_not_retried(status: int, body: Any, error: type) -> None:
    with stub_server(dags(scripted((status, body)))) as airflow:
        with pytest.raises(error):
            client_for(airflow.url).trigger(TRIGGER, deadline=time.monotonic() + 10)
        assert len(calls(airflow)) == 1


def test_without_a_deadline_one_attempt() -> None:
    with stub_server(dags(scripted((503, {})))) as airflow:
        with pytest.raises(AirflowServerError):
            client_for(airflow.url).trigger(TRIGGER)
        assert len(calls(airflow)) == 1


def test_deadline_runs_out_with_the_last_error() -> None:
    with stub_server(dags(scripted(default=(503, {"detail": "down"})))) as airflow:
        started = time.monotonic()
        with pytest.raises(AirflowServerError, match="503"):
            client_for(airflow.url).trigger(TRIGGER, deadline=started + 1.5)
        assert time.monotonic() - started < 2.5
        assert len(calls(airflow)) >= 2


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
    with stub_server(dags(scripted((403, {"detail": "Forbidden"})))) as airflow:
        with pytest.raises(AirflowAuthError, match="needs a role that may trigger"):
            client_for(airflow.url, auth=AuthConfig("basic", username="u", password="p")).trigger(TRIGGER)


# ---------------------------------------------------------------------------- versions and bodies


@pytest.mark.parametrize("text, version", [
    ("2.11.2", (2, 11, 2)), ("3.3.2", (3, 3, 2)), ("2.5.1+astro.1", (2, 5, 1)), ("3.0.0rc1", (3, 0, 0)),
    ("2.9.3-composer", (2, 9, 3)), ("2.10", (2, 10)), ("", None), (None, None), ("main", None), (3, None),
])
def test_parse_version(text: Any, version: tuple[int, ...] | None) -> None:
    assert parse_version(text) == version


BASE = {"dag_run_id": TRIGGER.dag_run_id, "conf": {"sha": "abc"}}


@pytest.mark.parametrize("api, version, expected", [
    # MWAA still lists 2.4.3 and 2.5.1: they answer 400 "Unknown field" to a note
    ("v1", (2, 4, 3), BASE),
    ("v1", (2, 5, 1), BASE),
    ("v1", (2, 5, 2), {**BASE, "note": "n"}),
    ("v1", (2, 11, 2), {**BASE, "note": "n"}),
    ("v1", None, {**BASE, "note": "n"}),  # unknown: the current body
    ("v2", (3, 0, 0), {**BASE, "note": "n", "logical_date": None}),
    ("v2", (3, 3, 2), {**BASE, "note": "n", "logical_date": None}),
    ("v2", None, {**BASE, "note": "n", "logical_date": None}),
])
def test_bodies_fit_the_version(api: str, version: tuple[int, ...] | None, expected: dict[str, Any]) -> None:
    assert request_body(TRIGGER, api, version) == expected


@pytest.mark.parametrize("version, has_note", [("2.4.3", False), ("2.5.1", False), ("2.10.5", True)])
def test_the_probe_learns_the_version_once_and_fits_every_body(version: str, has_note: bool) -> None:
    with stub_server(dags(scripted((404, {}), (200, {"version": version})))) as airflow:
        client = client_for(airflow.url, api="auto")
        for _ in range(3):
            client.trigger(TRIGGER)
        assert client.probe() == Probe("v1", parse_version(version))
        posts = [r for r in calls(airflow) if r.method == "POST"]
        assert len(posts) == 3 and all(("note" in r.json()) is has_note for r in posts)
        assert paths(airflow, "GET") == ["/api/v2/version", "/api/v1/version"]


def test_a_pinned_v1_asks_only_its_version() -> None:
    with stub_server(dags(scripted((200, {"version": "2.4.3"})))) as airflow:
        client = client_for(airflow.url, api="v1")
        client.trigger(TRIGGER)
        assert paths(airflow) == ["/api/v1/version", "/api/v1/dags/deploy/dagRuns"]
        assert "note" not in calls(airflow)[1].json()


@pytest.mark.parametrize("answer", [(403, {"detail": "no"}), (404, {})])
def test_a_pinned_api_whose_version_is_refused_sends_the_current_body(answer: tuple[int, Any]) -> None:
    with stub_server(dags(scripted(answer))) as airflow:
        client = client_for(airflow.url, api="v1")
        assert client.trigger(TRIGGER).status == "queued"
        assert client.probe() == Probe("v1") and calls(airflow)[1].json()["note"] == "n"


# ---------------------------------------------------------------------------- the probe carries credentials


@pytest.mark.parametrize("auth, header", [
    (AuthConfig("basic", username="u", password="p"), "Basic " + base64.b64encode(b"u:p").decode()),
    (AuthConfig("bearer", token="tok"), "Bearer tok"),
])
def test_the_probe_carries_the_configured_credentials(auth: AuthConfig, header: str) -> None:
    with stub_server(dags(scripted((200, {"version": "3.3.2"})))) as airflow:
        client_for(airflow.url, api="auto", auth=auth).trigger(TRIGGER)
        assert all(r.headers.get("authorization") == header for r in airflow.requests)


@pytest.mark.parametrize("answers, error, words", [
    # Cloud Composer's front end, an OAuth proxy: never "no REST API here"
    ([(302, {})], AirflowAuthError, "a sign-in page"),
    ([(401, {})], AirflowAuthError, "401"),  # never taken as proof that v2 exists
    ([(403, {})], AirflowAuthError, "403"),
    ([(404, {}), (401, {})], AirflowAuthError, "401"),
    ([(500, {})], AirflowServerError, "500"),
    ([(404, {}), (404, {})], AirflowRejected, "neither"),
])
def test_probe_failures(answers: list[tuple[int, Any]], error: type, words: str) -> None:
    with stub_server(dags(scripted(*answers))) as airflow:
        with pytest.raises(error, match=words) as caught:
            client_for(airflow.url, api="auto").trigger(TRIGGER)
        assert paths(airflow, "POST") == []  # no trigger on a guess
    if words == "a sign-in page":
        assert caught.value.detail.endswith("set airflow.auth (Cloud Composer: type google)")


def test_a_redirect_names_the_page_without_its_query() -> None:
    reply = Reply(302, b"", {"location": "https://user:pw@accounts.example/signin?continue=TOKEN#x"})
    error = classify(reply, "GET /api/v2/version", "google")
    assert isinstance(error, AirflowAuthError) and error.airflow_status == 302
    assert "https://accounts.example/signin" in error.detail
    assert "TOKEN" not in error.detail and "pw" not in error.detail


def test_a_404_from_a_wrong_api_is_asked_again_not_a_missing_dag() -> None:
    with stub_server(dags(scripted((200, {"version": "3.3.2"}), (404, {"detail": "Not Found"}),
                                   (404, {}), (200, {"version": "2.11.2"}), (200, {})))) as airflow:
        client = client_for(airflow.url, api="auto")
        with pytest.raises(AirflowRejected, match="REST API v2 is not at airflow.url"):
            client.trigger(TRIGGER)
        assert client.trigger(TRIGGER).status == "queued"  # probed again: v1
        assert client.api() == "v1"


# ---------------------------------------------------------------------------- paused DAGs


def test_a_paused_dag_is_reported_logged_and_looked_up_once_a_minute() -> None:
    now = [0.0]
    logged: list[tuple[str, str, dict[str, Any]]] = []
    with stub_server(dags(scripted(), paused=True)) as airflow:
        client = AirflowClient(AirflowConfig(url=airflow.url, api="v2", timeout=2), clock=lambda: now[0],
                               log=lambda severity, message, **fields: logged.append((severity, message, fields)))
        outcomes = [client.trigger(TRIGGER) for _ in range(3)]
        assert [o.dag_paused for o in outcomes] == [True] * 3
        assert client.paused_lookups == 1
        now[0] += PAUSED_TTL + 1
        client.trigger(TRIGGER)
        assert client.paused_lookups == 2
    assert [(s, f["dag_paused"]) for s, _, f in logged] == [("WARNING", True)] * 4
    assert "DAG deploy is paused" in logged[0][1]


@pytest.mark.parametrize("answer, paused", [
    ((200, {"is_paused": False}), False),
    ((404, {"detail": "no"}), None),     # not knowing never fails a created run
    ((500, {}), None),
    ((200, {"is_paused": "yes"}), None),
])
def test_paused_lookup_answers(answer: tuple[int, Any], paused: bool | None) -> None:
    def handler(request: Recorded) -> tuple[int, Any]:
        return answer if is_dag_lookup(request) else (200, {})
    with stub_server(handler) as airflow:
        assert client_for(airflow.url).trigger(TRIGGER).dag_paused is paused


def test_asset_events_have_no_paused_state() -> None:
    assert Outcome("queued", 200).dag_paused is None


# ---------------------------------------------------------------------------- permanent vs retryable


@pytest.mark.parametrize("value", ["a\x00", {"x": ["\udc80"]}, float("nan")])
def test_unstorable_conf_is_refused_before_sending(value: Any) -> None:
    with stub_server(dags(scripted())) as airflow:
        run = Trigger(route="r", dag_id="deploy", dag_run_id="x", conf={"k": value})
        with pytest.raises(RunRefused, match="route r: conf.k holds"):
            client_for(airflow.url).trigger(run, deadline=time.monotonic() + 5)
        assert airflow.requests == []


@pytest.mark.parametrize("error, is_permanent", [
    (DagNotFound("x", airflow_status=404), True),
    (AssetNotFound("x", airflow_status=404), True),
    (TargetNotFound("x", airflow_status=404), True),
    (AirflowRejected("x", airflow_status=400), True),
    (AirflowRejected("x", airflow_status=422), True),  # Airflow 3.3 on PostgreSQL: "Value rejected by database"
    (AirflowRejected("x", airflow_status=413), True),
    (RunRefused("conf holds a NUL"), True),            # refused before sending: the same every time
    (AirflowRejected("no REST API at airflow.url"), False),  # a URL to fix, not this run's fault
    (AirflowServerError("x", airflow_status=500), False),
    (AirflowServerError("x", airflow_status=408), False),
    (AirflowServerError("x", airflow_status=429), False),
    (AirflowUnavailable("refused"), False),
    (AirflowAuthError("x", airflow_status=401), False),
    (AirflowAuthError("x", airflow_status=403), False),
    (AirflowAuthError("sign-in page", airflow_status=302), False),
])
def test_permanent_vs_retryable(error: AirflowError, is_permanent: bool) -> None:
    assert permanent(error) is is_permanent


@pytest.mark.parametrize("status, error", [(408, AirflowServerError), (413, AirflowRejected), (405, AirflowRejected)])
def test_classify_timeouts_and_refusals(status: int, error: type) -> None:
    assert type(classify(Reply(status, b"{}"), "DAG 'x'", "none")) is error


# ---------------------------------------------------------------------------- secrets and TLS


def test_a_password_in_the_url_is_never_in_an_error() -> None:
    port = free_port()  # a port nobody listens on
    for api in ("auto", "v2"):
        with pytest.raises(AirflowUnavailable) as caught:
            client_for(f"http://admin:hunter2@127.0.0.1:{port}", api=api).trigger(TRIGGER)
        assert "hunter2" not in caught.value.detail and "admin:" not in caught.value.detail
        assert f"http://127.0.0.1:{port}/api/v2/" in caught.value.detail


@pytest.mark.parametrize("url, expected", [
    ("https://u:p@host:8443/api/v2/version?token=t", "https://host:8443/api/v2/version"),
    ("http://host/x", "http://host/x"),
    ("https://:p@host/", "https://host/"),
])
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


def test_verify_tls_false_applies_to_airflow_alone() -> None:
    config = AirflowConfig(url="https://airflow.example", api="v2", verify_tls=False,
                           auth=AuthConfig("google"))
    transport = build_transport(config)
    assert isinstance(transport, HttpTransport) and transport.pool._verify is False
    assert isinstance(transport.auth, GoogleAuth) and transport.auth._pool._verify is True
    composer = AirflowConfig(url=None, api="v2", verify_tls=False, auth=AuthConfig("google"),
                             composer_environment="projects/p/locations/l/environments/e")
    transport = build_transport(composer)
    assert isinstance(transport, ComposerTransport) and transport.pool._verify is False
    assert transport.discovery._pool._verify is True and transport.auth._pool._verify is True  # type: ignore[attr-defined]
    assert transport.discovery._pool is not transport.pool


def test_a_ca_bundle_also_applies_to_airflow_alone(tmp_path: Any) -> None:
    config = AirflowConfig(url="https://airflow.example", api="v2", verify_tls=str(tmp_path / "ca.pem"),
                           auth=AuthConfig("google"))
    transport = build_transport(config)
    assert transport.pool._verify == str(tmp_path / "ca.pem")  # type: ignore[attr-defined]
    assert transport.auth._pool._verify is True  # type: ignore[attr-defined]


def test_a_slow_paused_check_never_holds_the_answer_back() -> None:
    def handler(request: Recorded) -> tuple[int, Any]:
        if is_dag_lookup(request):
            time.sleep(PAUSED_TIMEOUT + 1)
            return 200, {"is_paused": True}
        return 200, {}
    with stub_server(handler) as airflow:
        client = AirflowClient(AirflowConfig(url=airflow.url, api="v2", timeout=10))
        started = time.monotonic()
        assert client.trigger(TRIGGER).dag_paused is None
        assert time.monotonic() - started < PAUSED_TIMEOUT + 0.9
        assert client.trigger(TRIGGER).dag_paused is None and client.paused_lookups == 1  # not asked again
