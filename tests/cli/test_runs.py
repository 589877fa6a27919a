"""``airhook runs``: deliveries sent through the real function server read back from a real
Airflow (3, and 2) over its REST API, newest first, filtered, with their states; a delivery
that became no run exits 1; clear one-line errors."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airhook.routing import default_run_id
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer

from .support import airhook

SECRET = secrets.token_urlsafe(24)
#: A delivery id outside Airflow's run-id characters: its run id holds a hash, its note the id.
ODD_ID = f"redelivery {secrets.token_hex(4)}/1"

CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: auto
  auth: %(auth)s
  timeout: 30      # a loaded test machine answers slowly; GitHub's 9 s deadline still bounds a trigger
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
  tool: {type: hmac, secrets: ["${TOOL_SECRET}"], header: X-Signature}
routes:
  - {name: deploy-main, source: github, events: [push], dag_id: deploy, conf: {sha: body.after}}
  - {name: billing, source: github, events: [release], dag_id: billing_sync}
  - {name: gone, source: github, events: [release], dag_id: no_such_dag}
  - {name: tool-deploy, source: tool, dag_id: deploy, run_id: "join('', ['tool-', delivery_id])"}
"""
AUTH = {2: "{type: basic, username: admin, password: ${AIRFLOW_PASSWORD}}",
        3: "{type: airflow-jwt, username: admin, password: ${AIRFLOW_PASSWORD}}"}


def test_help_has_an_example() -> None:
    result = airhook("runs", "--help")
    assert result.code == 0
    assert "examples:\n" in result.stdout and "  airhook runs --delivery " in result.stdout
    assert all(option in result.stdout for option in ("--source", "--delivery", "--limit", "--json", "--config"))


@pytest.mark.parametrize("args,env,message,code", [
    (["--limit", "0"], {}, "airhook: error: argument --limit: expected 1 to 1000, got 0", 2),
    (["--limit", "many"], {}, "airhook: error: argument --limit: expected a whole number, got 'many'", 2),
    # Airflow's variables are needed; the sources' secrets are not.
    ([], {}, "airhook: error: {config}:3: environment variable(s) not set: AIRFLOW_PASSWORD, AIRFLOW_URL "
             "(needed to ask Airflow)", 2),
    (["--source", "gitlab"], {"AIRFLOW_URL": "http://127.0.0.1:9", "AIRFLOW_PASSWORD": "x"},
     "airhook: error: {config}: no source named 'gitlab' (configured: github, tool)", 2),
    ([], {"AIRFLOW_URL": "http://127.0.0.1:9", "AIRFLOW_PASSWORD": "x"},
     # the version probe carries the configured auth (issue 11.1): the token is asked for first
     "airhook: error: cannot ask Airflow: POST http://127.0.0.1:9/auth/token", 1),
])
def test_errors_are_one_line(tmp_path: Path, args: list[str], env: dict[str, str], message: str,
                             code: int) -> None:
    config = tmp_path / "airhook.yaml"
    config.write_text(CONFIG % {"auth": AUTH[3]})
    result = airhook("runs", "--config", str(config), *args, env=env)
    assert result.code == code, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(message.format(config=config)), line
    assert result.stdout == ""


# ------------------------------------------------------------------ a real Airflow, 2 and 3


@pytest.fixture(scope="module")
def function(airflow: AirflowServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FunctionServer, Path, dict[str, str]]]:
    config = tmp_path_factory.mktemp(f"runs{airflow.major}") / "airhook.yaml"
    config.write_text(CONFIG % {"auth": AUTH[airflow.major]})
    env = {"AIRFLOW_URL": airflow.url, "AIRFLOW_PASSWORD": airflow.password}
    with FunctionServer(config, {**env, "GITHUB_WEBHOOK_SECRET": SECRET, "TOOL_SECRET": "t"}) as server:
        yield server, config, env


def send(server: FunctionServer, config: Path, delivery: str | None = None, source: str = "github") -> str:
    """A signed delivery (GitHub's: a push); on a 503 (Airflow slow on a loaded machine) sent
    again as the sender's retry would be, so the run exists once either way. Returns the
    delivery id."""
    for _ in range(4):
        extra = ("--redeliver", delivery) if delivery and source == "github" else ()
        result = airhook("send", source, "--url", server.url, "--config", str(config), "--json", *extra,
                         env={"GITHUB_WEBHOOK_SECRET": SECRET, "TOOL_SECRET": "t"})
        answer = result.json()
        delivery = str(answer["request"]["delivery_id"])
        if answer["status"] != 503:
            break
    assert result.code == 0, result.stdout
    assert [r["status"] for r in answer["response"]["runs"]] in (["queued"], ["duplicate"]), answer
    return delivery


def runs(config: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = airhook("runs", "--config", str(config), "--json", *args, env=env)
    assert result.code == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def test_a_delivery_just_sent_is_listed_newest_first_with_its_state(
        airflow: AirflowServer, function: tuple[FunctionServer, Path, dict[str, str]]) -> None:
    server, config, env = function
    first = send(server, config)
    assert send(server, config, ODD_ID) == ODD_ID  # a new delivery, with an id of our choosing
    first_run = f"airhook__github__deploy-main__{first}"
    second_run = default_run_id("github", "deploy-main", ODD_ID)
    assert second_run.startswith("airhook__github__deploy-main__h")  # hashed in the run id
    assert airflow.trigger("deploy", run_id=f"manual__{first}").ok  # not airhook's: never listed
    airflow.wait_for_run_state("deploy", first_run, timeout=120)

    document = runs(config, env, "--source", "github")
    assert document["api"] == ("v2" if airflow.major == 3 else "v1")
    assert document["dags"] == [
        {"dag_id": "deploy", "routes": ["deploy-main"], "exists": True, "paused": False},
        {"dag_id": "billing_sync", "routes": ["billing"], "exists": True, "paused": False},
        {"dag_id": "no_such_dag", "routes": ["gone"], "exists": False, "paused": None},
    ]
    listed = document["runs"]
    assert [r["run_id"] for r in listed[:2]] == [second_run, first_run]  # newest first
    assert all(r["source"] == "github" and not r["run_id"].startswith("manual__") for r in listed)
    newest, older = listed[0], listed[1]
    assert (newest["delivery_id"], newest["route"], newest["dag_id"]) == (ODD_ID, "deploy-main", "deploy")
    assert newest["note"] == f"airhook: github push delivery {ODD_ID}"
    assert (older["delivery_id"], older["state"]) == (first, "success")
    assert older["created"] and newest["created"] and newest["created"] >= older["created"][:19]

    # --delivery: found by its run id, also when the run id holds only its hash
    for delivery, run_id in ((first, first_run), (ODD_ID, second_run)):
        [only] = runs(config, env, "--delivery", delivery)["runs"]
        assert (only["run_id"], only["delivery_id"]) == (run_id, delivery)

    # A route with its own run_id: recognised by the default note, the route named by the routes
    # file, found by --delivery among the DAG's newest runs.
    tool = send(server, config, source="tool")
    [custom] = runs(config, env, "--source", "tool")["runs"]
    assert (custom["run_id"], custom["route"], custom["delivery_id"]) == (f"tool-{tool}", "tool-deploy", tool)
    [again] = runs(config, env, "--delivery", tool)["runs"]  # its state may have moved on meanwhile
    assert (again["run_id"], again["route"], again["delivery_id"]) == (custom["run_id"], "tool-deploy", tool)


def test_human_output_and_a_delivery_that_became_no_run(
        airflow: AirflowServer, function: tuple[FunctionServer, Path, dict[str, str]]) -> None:
    server, config, env = function
    delivery = send(server, config)
    assert airflow.request("PATCH", "dags/billing_sync", {"is_paused": True}).ok
    try:
        result = airhook("runs", "--config", str(config), "--limit", "1", env=env)
    finally:
        airflow.request("PATCH", "dags/billing_sync", {"is_paused": False})
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "DAG 'billing_sync' is paused (route billing): its runs are created but do not start"
    assert lines[1] == "DAG 'no_such_dag' does not exist in Airflow (route gone): its deliveries cannot become runs"
    assert lines[2].split() == ["SOURCE", "DELIVERY", "DAG", "STATE", "CREATED", "RUN", "ID"]
    [row] = lines[3:]
    assert row.split()[:3] == ["github", delivery, "deploy"]
    assert row.endswith(f"  airhook__github__deploy-main__{delivery}")
    assert "\033[" not in result.stdout

    missing = airhook("runs", "--config", str(config), "--delivery", "never-sent", env=env)
    assert missing.code == 1
    assert missing.stdout.splitlines()[-1] == "no run for delivery 'never-sent' in DAG(s) deploy, billing_sync"
    assert airhook("runs", "--config", str(config), "--delivery", "never-sent", "--json", env=env).json()["runs"] == []
