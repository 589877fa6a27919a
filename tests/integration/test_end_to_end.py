"""The spine, end to end: a signed GitHub delivery through the real functions-framework server
becomes a DAG run with the right conf on a real Airflow 2.11 (API v1, basic auth) and 3.3
(API v2, JWT)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer

SECRET = "e2e-webhook-secret"
PUSH = payload("push", "with-new-branch.payload.json")  # refs/heads/master
PUSH_BODY = json.loads(PUSH)

CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: auto
  auth: {type: ${AIRFLOW_AUTH}, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
  timeout: 8
sources:
  github:
    type: github
    secrets: ["${GITHUB_WEBHOOK_SECRET}"]
  patient:                 # a sender that waits long: retries ride out an API server restart
    type: github
    secrets: ["${GITHUB_WEBHOOK_SECRET}"]
    deadline: 150
routes:
  - name: deploy-patient
    source: patient
    events: [push]
    dag_id: deploy
    conf: {sha: body.after}
  - name: deploy-main
    source: github
    events: [push]
    when: "body.ref == 'refs/heads/master'"
    dag_id: deploy
    conf:
      sha: body.after
      repo: body.repository.full_name
      pusher: body.pusher.name
  - name: releases
    source: github
    events: [release]
    dag_id: no_such_dag
"""


@pytest.fixture(scope="module")
def function(airflow: AirflowServer) -> Iterator[FunctionServer]:
    env = {"AIRFLOW_URL": airflow.url, "AIRFLOW_USER": airflow.username,
           "AIRFLOW_PASSWORD": airflow.password, "GITHUB_WEBHOOK_SECRET": SECRET,
           "AIRFLOW_AUTH": "basic" if airflow.api == "v1" else "airflow-jwt"}
    with FunctionServer(CONFIG, env) as server:
        yield server
        assert SECRET not in server.log_text() and airflow.password not in server.log_text()


def deliver(function: FunctionServer, body: bytes = PUSH, *, event: str = "push",
            delivery_id: str | None = None, secret: str = SECRET,
            content_type: str = "application/json", source: str = "github") -> requests.Response:
    return requests.post(f"{function.url}/{source}", data=body, timeout=200, headers={
        "Content-Type": content_type, "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret.encode(), body), "User-Agent": "GitHub-Hookshot/test"})


def runs_with_id(airflow: AirflowServer, run_id: str) -> list[dict[str, Any]]:
    return [run for run in airflow.list_dag_runs("deploy") if run["dag_run_id"] == run_id]


def test_push_becomes_a_run_with_the_right_conf(airflow: AirflowServer, function: FunctionServer) -> None:
    delivery_id = str(uuid.uuid4())
    response = deliver(function, delivery_id=delivery_id)
    assert response.status_code == 200, response.text
    run_id = f"airhook__github__deploy-main__{delivery_id}"
    assert response.json() == {"delivery_id": delivery_id, "source": "github", "event": "push", "runs": [
        {"route": "deploy-main", "dag_id": "deploy", "dag_run_id": run_id, "status": "queued"}]}
    run = airflow.wait_for_run_state("deploy", run_id, states=("success",), timeout=90)
    assert run["conf"] == {"sha": PUSH_BODY["after"], "repo": "Codertocat/Hello-World",
                           "pusher": PUSH_BODY["pusher"]["name"]}
    [line] = [l for l in function.log_lines() if l.get("delivery_id") == delivery_id]
    assert line["severity"] == "INFO" and line["outcome"] == "queued" and line["dag_run_ids"] == [run_id]


def test_redelivery_gives_one_run(airflow: AirflowServer, function: FunctionServer) -> None:
    delivery_id = str(uuid.uuid4())
    statuses = [deliver(function, delivery_id=delivery_id).json()["runs"][0]["status"] for _ in range(3)]
    assert statuses == ["queued", "duplicate", "duplicate"]
    assert len(runs_with_id(airflow, f"airhook__github__deploy-main__{delivery_id}")) == 1


def test_form_encoded_delivery(airflow: AirflowServer, function: FunctionServer) -> None:
    body = urlencode({"payload": PUSH.decode()}).encode()
    response = deliver(function, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    run = airflow.get_dag_run("deploy", response.json()["runs"][0]["dag_run_id"])
    assert run is not None and run["conf"]["sha"] == PUSH_BODY["after"]


@pytest.mark.parametrize("kwargs, status", [
    ({"secret": "wrong"}, 401),
    ({"event": "ping", "body": payload("ping")}, 200),
    ({"event": "push", "body": payload("push")}, 200),  # a tag push: no route matches
])
def test_nothing_is_triggered(airflow: AirflowServer, function: FunctionServer, kwargs: dict[str, Any],
                              status: int) -> None:
    before = len(airflow.list_dag_runs("deploy"))
    response = deliver(function, **kwargs)
    assert response.status_code == status
    assert response.json().get("runs", []) == []
    assert len(airflow.list_dag_runs("deploy")) == before


def test_unknown_dag_is_a_loud_5xx(function: FunctionServer) -> None:
    delivery_id = str(uuid.uuid4())
    response = deliver(function, payload("release", "published.payload.json"), event="release",
                       delivery_id=delivery_id)
    assert response.status_code == 502
    assert response.json()["error"] == "dag_not_found"
    [line] = [l for l in function.log_lines() if l.get("delivery_id") == delivery_id]
    assert line["severity"] == "ERROR" and line["airflow_status"] == 404


def test_airflow_down_gives_503_then_a_retry_gives_one_run(airflow: AirflowServer,
                                                           function: FunctionServer) -> None:
    delivery_id = str(uuid.uuid4())
    airflow.stop_api()
    try:
        response = deliver(function, delivery_id=delivery_id)
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.json()["error"] == "airflow_unavailable"
    finally:
        airflow.start_api()
    retried = deliver(function, delivery_id=delivery_id)  # what a sender (or a redelivery) does
    assert retried.status_code == 200, retried.text
    assert retried.json()["runs"][0]["status"] == "queued"
    assert len(runs_with_id(airflow, f"airhook__github__deploy-main__{delivery_id}")) == 1


def test_a_delivery_rides_out_an_api_server_restart(airflow: AirflowServer, function: FunctionServer) -> None:
    delivery_id = str(uuid.uuid4())
    airflow.stop_api()
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(deliver, function, source="patient", delivery_id=delivery_id)
            time.sleep(2)  # the delivery is now retrying against a closed port
            assert not pending.done()
            airflow.start_api()
            response = pending.result(timeout=180)
    finally:
        airflow.start_api()  # idempotent; the fixture is shared
    assert response.status_code == 200, response.text
    assert response.json()["runs"][0]["status"] == "queued"
    assert len(runs_with_id(airflow, f"airhook__patient__deploy-patient__{delivery_id}")) == 1
