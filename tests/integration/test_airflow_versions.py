"""Against real Airflow 2.11 and 3.3: the probe carries credentials (behind a loopback front end
that turns anonymous requests away), the trigger body fits the server's version, a conf that no
Airflow can store is refused before sending, a wrong API is never a missing DAG, and a paused DAG
is reported."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest

from airhook.airflow import client as client_module
from airhook.airflow.client import AirflowClient, Probe, parse_version, request_body
from airhook.config import AirflowConfig, AuthConfig
from airhook.errors import AirflowAuthError, AirflowRejected, RunRefused
from airhook.routing import Trigger
from tests.fixtures_local import airflow2_oldest  # noqa: F401 (not in conftest: only used here)
from tools.local_airflow import AirflowServer


def auth_for(airflow: AirflowServer) -> AuthConfig:
    if airflow.api == "v1":
        return AuthConfig("basic", username=airflow.username, password=airflow.password)
    return AuthConfig("airflow-jwt", username=airflow.username, password=airflow.password)


def client_for(airflow: AirflowServer, url: str | None = None, api: str = "auto",
               auth: AuthConfig | None = None, **kwargs: Any) -> AirflowClient:
    return AirflowClient(AirflowConfig(url=url or airflow.url, api=api,
                                       auth=auth if auth is not None else auth_for(airflow), timeout=30),
                         **kwargs)


def trigger(dag_id: str = "deploy", conf: dict[str, Any] | None = None, note: str | None = "by airhook") -> Trigger:
    return Trigger(route="r", dag_id=dag_id, dag_run_id=f"versions-{uuid.uuid4().hex[:12]}",
                   conf=conf if conf is not None else {"n": 1}, note=note)


# ---------------------------------------------------------------------------- a front end on loopback


@contextmanager
def front_end(airflow: AirflowServer, anonymous: Literal["302", "401"]) -> Iterator[str]:
    """A proxy that guards the whole host as Cloud Composer's front end or an OAuth proxy does: a
    request without credentials gets a 302 to a sign-in page (or a 401), whatever its path; one
    with credentials is passed to Airflow. Airflow 3's /auth/token is the login itself: let through."""
    target = urlsplit(airflow.url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if "Authorization" not in self.headers and self.path != "/auth/token":
                if anonymous == "302":
                    self.send_response(302)
                    self.send_header("Location", "https://accounts.example/signin?continue=secret-token")
                else:
                    self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body,
                                 headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                answer = upstream.getresponse()
                data = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.getheader("Content-Type") or "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("anonymous", ["302", "401"])
def test_the_probe_carries_credentials_behind_a_front_end(airflow: AirflowServer, anonymous: Literal["302", "401"]) -> None:
    with front_end(airflow, anonymous) as url:
        client = client_for(airflow, url)
        run = trigger()
        assert client.trigger(run).status == "queued"  # not dag_not_found, not "no REST API"
        assert client.probe() == Probe(airflow.api, parse_version(airflow.version))
    assert airflow.get_dag_run("deploy", run.dag_run_id) is not None


@pytest.mark.parametrize("anonymous, words", [("302", "redirected (302) to https://accounts.example/signin, "
                                                       "a sign-in page: the URL is behind a front end"),
                                              ("401", "401")])
def test_without_credentials_a_front_end_is_an_auth_failure(airflow2: AirflowServer, anonymous: Literal["302", "401"],
                                                            words: str) -> None:
    with front_end(airflow2, anonymous) as url:
        with pytest.raises(AirflowAuthError) as caught:
            client_for(airflow2, url, auth=AuthConfig("none")).trigger(trigger())
    assert words in caught.value.detail and "secret-token" not in caught.value.detail


# ---------------------------------------------------------------------------- bodies and versions


def test_the_body_fits_the_servers_version(airflow: AirflowServer) -> None:
    client = client_for(airflow)
    run = trigger(note="fitted")
    assert client.trigger(run).status == "queued"
    assert client.version() == parse_version(airflow.version)
    assert airflow.get_dag_run("deploy", run.dag_run_id)["note"] == "fitted"  # type: ignore[index]


def test_a_body_for_airflow_before_2_5_2_is_still_taken_by_2_11(airflow2: AirflowServer) -> None:
    """The note-less body sent to 2.4/2.5.1 (MWAA still lists both) is one Airflow 2 accepts."""
    run = trigger(note="dropped")
    body = request_body(run, "v1", (2, 5, 1))
    assert "note" not in body
    assert airflow2.request("POST", "dags/deploy/dagRuns", body).status == 200
    assert airflow2.get_dag_run("deploy", run.dag_run_id) is not None


def test_airflow_before_2_5_2_gets_a_body_it_takes(airflow2_oldest: AirflowServer) -> None:  # noqa: F811
    """Airflow 2.5.1 (MWAA still lists it) answers 400 "Unknown field" to a note: airhook learns the
    version from the probe and leaves the note out, behind a front end too."""
    refused = airflow2_oldest.trigger("deploy", f"raw-{uuid.uuid4().hex[:8]}", {"n": 1}, note="n")
    assert refused.status == 400 and "note" in str(refused.body)
    for anonymous in ("302", "401"):
        with front_end(airflow2_oldest, anonymous) as url:  # type: ignore[arg-type]
            client = client_for(airflow2_oldest, url)
            run = trigger(note="would be refused")
            assert client.trigger(run).status == "queued"
            assert client.probe() == Probe("v1", (2, 5, 1))
        assert airflow2_oldest.get_dag_run("deploy", run.dag_run_id) is not None


def test_a_wrong_api_is_never_a_missing_dag(airflow: AirflowServer) -> None:
    wrong = "v2" if airflow.api == "v1" else "v1"
    client = client_for(airflow, api=wrong)
    with pytest.raises(AirflowRejected, match="REST API") as caught:
        client.trigger(trigger())
    assert caught.value.code == "airflow_rejected" and caught.value.airflow_status is None


# ---------------------------------------------------------------------------- conf no Airflow can store


@pytest.mark.parametrize("value", ["nul\x00byte", "lone \udc80 surrogate"])
def test_unstorable_conf_is_refused_before_airflow(airflow: AirflowServer, value: str) -> None:
    run = trigger(conf={"title": value})
    with pytest.raises(RunRefused, match="conf.title holds"):
        client_for(airflow).trigger(run)
    assert airflow.get_dag_run("deploy", run.dag_run_id) is None


def test_airflow3_on_postgres_refuses_nul_for_good(airflow3: AirflowServer) -> None:
    """Why the check exists: sent anyway, Airflow 3.3 on PostgreSQL answers 422 (other backends
    and versions answer 500, which would read as an outage)."""
    reply = airflow3.request("POST", "dags/deploy/dagRuns", {  # 120 s: the loaded test machine is slow
        "dag_run_id": f"nul-{uuid.uuid4().hex[:8]}", "conf": {"title": "a\x00b"}, "logical_date": None},
        timeout=120)
    assert reply.status == 422 and "rejected by database" in str(reply.body)


# ---------------------------------------------------------------------------- paused DAGs


def test_a_paused_dag_is_reported(airflow: AirflowServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "PAUSED_TIMEOUT", 60.0)  # the shared test machine can be slow
    logged: list[tuple[str, str, dict[str, Any]]] = []
    client = client_for(airflow, log=lambda severity, message, **fields: logged.append((severity, message, fields)))
    assert airflow.request("PATCH", "dags/billing_sync", {"is_paused": True}).ok
    try:
        run = trigger("billing_sync")
        outcome = client.trigger(run, deadline=time.monotonic() + 120)  # retried through load
        assert (outcome.status, outcome.dag_paused) == ("queued", True)
        again = client.trigger(run, deadline=time.monotonic() + 120)  # the redelivery: a duplicate
        assert (again.status, again.dag_paused) == ("duplicate", True)
        assert client.paused_lookups == 1  # cached per DAG
        [(severity, message, fields), _] = logged
        assert severity == "WARNING" and "is paused" in message and fields["dag_run_id"] == run.dag_run_id
    finally:
        airflow.request("PATCH", "dags/billing_sync", {"is_paused": False})
    assert client.trigger(trigger("deploy"), deadline=time.monotonic() + 120).dag_paused is False


# ---------------------------------------------------------------------------- what the sender is told

SECRET = "versions-secret"
CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  auth: {type: basic, username: '${USER}', password: '${PASSWORD}'}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"], deadline: 60}
routes:
  - {name: billing, source: github, events: [push], dag_id: billing_sync, conf: {message: body.head_commit.message}}
"""


def test_the_sender_is_told_422_for_unstorable_conf_and_dag_paused(airflow2: AirflowServer) -> None:
    import json

    import requests

    from airhook.senders.github import sign
    from tests.conftest import payload
    from tools.function_server import FunctionServer

    def post(function: FunctionServer, message: str) -> requests.Response:
        document = json.loads(payload("push"))
        document["head_commit"] = {"message": message}
        body = json.dumps(document).encode()  # json escapes NUL as \\u0000: valid JSON
        return requests.post(f"{function.url}/github", data=body, timeout=120, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": sign(SECRET.encode(), body)})

    environment = {"AIRFLOW_URL": airflow2.url, "USER": airflow2.username, "PASSWORD": airflow2.password,
                   "GITHUB_WEBHOOK_SECRET": SECRET}
    assert airflow2.request("PATCH", "dags/billing_sync", {"is_paused": True}).ok
    try:
        with FunctionServer(CONFIG, environment) as function:
            refused = post(function, "fix\x00 billing")
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"] == "conf_not_storable"
            assert "route 'billing': conf.message holds a NUL character" in refused.json()["message"]
            queued = post(function, "fix billing")
            assert queued.status_code == 200, queued.text
            [run] = queued.json()["runs"]
            assert run["status"] == "queued" and run["dag_paused"] is True
            assert '"severity":"WARNING"' in function.log_text() and "is paused" in function.log_text()
    finally:
        airflow2.request("PATCH", "dags/billing_sync", {"is_paused": False})
