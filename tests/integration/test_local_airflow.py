"""Smoke tests of the local Airflow harness itself, on both REST API generations.

If these fail, every other integration test would fail for reasons that have nothing to do with
airhook; they also pin the Airflow behaviours airhook relies on (conf stored as sent, 409 on a
duplicate run id).
"""

from __future__ import annotations

import socket
import uuid

import pytest

from tools.local_airflow import AirflowServer

CONF = {"ref": "refs/heads/main", "after": "0" * 40, "nested": {"ids": [1, 2, 3]}, "unicode": "é✓"}


def _run_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_trigger_runs_to_success_with_conf(airflow: AirflowServer) -> None:
    run_id = _run_id("smoke")

    resp = airflow.trigger("deploy", run_id, CONF)

    assert resp.status == 200, resp
    assert resp.body["dag_run_id"] == run_id
    run = airflow.wait_for_run_state("deploy", run_id, timeout=90)
    assert run["conf"] == CONF
    assert run_id in {r["dag_run_id"] for r in airflow.list_dag_runs("deploy")}


def test_duplicate_run_id_is_409(airflow: AirflowServer) -> None:
    run_id = _run_id("dup")
    assert airflow.trigger("billing_sync", run_id, {"n": 1}).status == 200

    again = airflow.trigger("billing_sync", run_id, {"n": 2})

    assert again.status == 409, again
    # The first trigger's conf wins; the duplicate changed nothing.
    assert airflow.wait_for_run_state("billing_sync", run_id, timeout=90)["conf"] == {"n": 1}


def test_unknown_run_is_none_and_unknown_dag_is_404(airflow: AirflowServer) -> None:
    assert airflow.get_dag_run("deploy", "no-such-run") is None
    assert airflow.trigger("no_such_dag", _run_id("x"), {}).status == 404


def test_stop_api_refuses_connections_and_start_api_recovers(airflow: AirflowServer) -> None:
    port = airflow.port
    assert port is not None

    airflow.stop_api()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        airflow.start_api()

    assert airflow.port == port
    assert airflow.request("GET", "dags/deploy").status == 200
    # The scheduler survived the outage: a run triggered after recovery still completes.
    run_id = _run_id("after-restart")
    assert airflow.trigger("deploy", run_id, {"after": "restart"}).status == 200
    assert airflow.wait_for_run_state("deploy", run_id, timeout=90)["conf"] == {"after": "restart"}
