"""Asset routes on real Airflow: Airflow 3 asset events (looked up by name) and Airflow 2.11
dataset events (by URI) make the DAG scheduled on that asset run, with the mapped extra; a
redelivery does not post a second event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer

SECRET = "asset-secret"
CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  auth: {type: ${AIRFLOW_AUTH}, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
routes:
  - name: orders-changed
    source: github
    events: [push]
    asset: ${ASSET}
    extra: {sha: body.after, repo: body.repository.full_name}
  - name: missing-asset
    source: github
    events: [release]
    asset: no-such-asset
"""


@pytest.fixture(scope="module")
def function(airflow: AirflowServer) -> Iterator[FunctionServer]:
    airflow.wait_ready(["orders_refresh"])
    env = {"AIRFLOW_URL": airflow.url, "AIRFLOW_USER": airflow.username, "AIRFLOW_PASSWORD": airflow.password,
           "GITHUB_WEBHOOK_SECRET": SECRET, "AIRFLOW_AUTH": "basic" if airflow.api == "v1" else "airflow-jwt",
           # Airflow 3 finds an asset by name (or URI); Airflow 2's datasets have only a URI
           "ASSET": "orders" if airflow.api == "v2" else "airhook://demo/orders"}
    with FunctionServer(CONFIG, env) as server:
        yield server


def deliver(function: FunctionServer, body: bytes, event: str, delivery_id: str) -> requests.Response:
    return requests.post(f"{function.url}/github", data=body, timeout=60, headers={
        "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(SECRET.encode(), body)})


def asset_events(airflow: AirflowServer) -> list[dict[str, Any]]:
    if airflow.api == "v2":
        return airflow.request("GET", "assets/events?limit=100&order_by=-timestamp").body["asset_events"]
    return airflow.request("GET", "datasets/events?limit=100&order_by=-timestamp").body["dataset_events"]


def test_asset_event_runs_the_scheduled_dag_once(airflow: AirflowServer, function: FunctionServer) -> None:
    body = payload("push")
    delivery_id = str(uuid.uuid4())
    runs_before = {r["dag_run_id"] for r in airflow.list_dag_runs("orders_refresh")}
    statuses = [deliver(function, body, "push", delivery_id).json()["runs"][0]["status"] for _ in range(2)]
    assert statuses == ["queued", "duplicate"]
    event_id = f"airhook__github__orders-changed__{delivery_id}"
    mine = [e for e in asset_events(airflow) if (e.get("extra") or {}).get("airhook_event_id") == event_id]
    assert len(mine) == 1
    assert mine[0]["extra"]["repo"] == "Codertocat/Hello-World"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = [r for r in airflow.list_dag_runs("orders_refresh") if r["dag_run_id"] not in runs_before]
        if new and all(r["state"] == "success" for r in new):
            break
        assert not any(r["state"] == "failed" for r in new), new
        time.sleep(1)
    else:
        pytest.fail("orders_refresh did not run after the asset event")


def test_unknown_asset_is_a_loud_5xx(function: FunctionServer) -> None:
    response = deliver(function, payload("release", "published.payload.json"), "release", str(uuid.uuid4()))
    assert response.status_code == 502 and response.json()["error"] == "asset_not_found"
