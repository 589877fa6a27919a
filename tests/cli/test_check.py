"""``airhook check`` against fixture configs: every problem as ``file:line: message`` with a
non-zero exit, every unset variable reported; ``--airflow`` against a real Airflow 3."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.local_airflow import AirflowServer

from .support import ROOT, airhook

CONFIGS = Path(__file__).resolve().parent / "configs"
ROUTES = str(CONFIGS / "routes.yaml")
BROKEN = str(CONFIGS / "broken.yaml")
ENV = {"AIRFLOW_URL": "http://127.0.0.1:8080", "AIRFLOW_USER": "admin", "AIRFLOW_PASSWORD": "admin",
       "GITHUB_WEBHOOK_SECRET": "s1", "STRIPE_WEBHOOK_SECRET": "whsec_s2", "TOOL_SECRET": "s3"}


def test_a_valid_config_passes() -> None:
    result = airhook("check", ROUTES, env=ENV)
    assert (result.code, result.stdout, result.stderr) == (0, f"{ROUTES}: OK (4 sources, 6 routes)\n", "")


def test_every_unset_variable_is_reported_with_its_line() -> None:
    result = airhook("check", ROUTES, env={"AIRFLOW_URL": "http://127.0.0.1:8080"})
    assert result.code == 1
    assert result.stdout.splitlines() == [
        f"{ROUTES}:5: environment variable AIRFLOW_USER is not set (airflow.auth.username)",
        f"{ROUTES}:5: environment variable AIRFLOW_PASSWORD is not set (airflow.auth.password)",
        f"{ROUTES}:9: environment variable GITHUB_WEBHOOK_SECRET is not set (sources.github.secrets[0])",
        f"{ROUTES}:12: environment variable STRIPE_WEBHOOK_SECRET is not set (sources.stripe.secrets[0])",
        f"{ROUTES}:15: environment variable TOOL_SECRET is not set (sources.tool.secrets[0])",
        "5 problems",
    ]


def test_every_problem_is_reported_at_its_line() -> None:
    result = airhook("check", BROKEN, env={"AIRFLOW_URL": "http://127.0.0.1:8080", "AIRFLOW_PASSWORD": "pw",
                                           "GITHUB_WEBHOOK_SECRET": "s"})
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines[:-1]] == [
        f"{BROKEN}:{n}" for n in (11, 16, 18, 20, 25, 27)]
    assert lines[0] == f"{BROKEN}:11: sources.stripe: unknown key(s) secret"
    assert lines[1].startswith(f"{BROKEN}:16: routes[0] (deploy-main).when: invalid JMESPath expression")
    assert lines[2] == f"{BROKEN}:18: routes[1] (deploy-main).name: duplicate route name 'deploy-main' (first at line 13)"
    assert lines[3] == f"{BROKEN}:20: routes[1] (deploy-main).dag_id: 'deploy everything' is not a valid Airflow DAG id"
    assert lines[4].startswith(f"{BROKEN}:25: routes[2] (billing).conf.invoice: invalid JMESPath expression 'body.data.('")
    assert lines[5] == f"{BROKEN}:27: routes[3] (nowhere).source: no source named 'gitlab' (configured: github, stripe)"
    assert lines[6] == "6 problems"


def test_json_output() -> None:
    result = airhook("check", BROKEN, "--json")
    assert result.code == 1
    answer = result.json()
    assert answer["ok"] is False and answer["config"] == BROKEN
    kinds = [(p["line"], p["kind"]) for p in answer["problems"]]
    assert kinds[:3] == [(3, "environment"), (4, "environment"), (8, "environment")]
    assert len(answer["problems"]) == 9


def test_not_yaml() -> None:
    result = airhook("check", str(CONFIGS / "not-yaml.yaml"))
    assert result.code == 1
    assert result.stdout.splitlines() == [
        f"{CONFIGS / 'not-yaml.yaml'}:5: invalid YAML: expected ',' or '}}', but got '<scalar>'", "1 problem"]


def test_default_config_and_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "airhook.yaml").write_text((ROOT / "airhook.yaml").read_text())
    env = {"AIRFLOW_URL": "http://a:8080", "AIRFLOW_USER": "u", "AIRFLOW_PASSWORD": "p", "GITHUB_WEBHOOK_SECRET": "s"}
    assert airhook("check", env=env, cwd=tmp_path).stdout == "airhook.yaml: OK (1 source, 1 route)\n"
    assert airhook("check", env={**env, "AIRHOOK_CONFIG": ROUTES}, cwd=tmp_path).code == 1
    missing = airhook("check", str(tmp_path / "nope.yaml"))
    assert missing.code == 2
    assert missing.stderr == f"airhook: error: cannot read config file {tmp_path / 'nope.yaml'}: No such file or directory\n"


# ------------------------------------------------------------------ --airflow, a real Airflow 3

AIRFLOW_CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: auto
  auth: {type: airflow-jwt, username: admin, password: "${AIRFLOW_PASSWORD}"}
sources:
  github: {type: github, secrets: [s]}
routes:
  - {name: deploy, source: github, dag_id: deploy}
  - {name: billing, source: github, dag_id: billing_sync}
  - {name: missing, source: github, dag_id: no_such_dag}
  - {name: orders, source: github, asset: orders}
  - {name: no-asset, source: github, asset: no_such_asset}
"""


@pytest.fixture
def billing_paused(airflow3: AirflowServer) -> Iterator[None]:
    assert airflow3.request("PATCH", "dags/billing_sync", {"is_paused": True}).ok
    try:
        yield
    finally:
        airflow3.request("PATCH", "dags/billing_sync", {"is_paused": False})


def wait_for_asset(airflow: AirflowServer, name: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assets = airflow.request("GET", f"assets?name_pattern={name}").body or {}
        if any(a.get("name") == name for a in assets.get("assets", [])):
            return
        time.sleep(1)
    raise AssertionError(f"asset {name} never appeared")


def test_airflow_is_asked_about_each_dag_and_asset(airflow3: AirflowServer, billing_paused: None,
                                                   tmp_path: Path) -> None:
    wait_for_asset(airflow3, "orders")
    config = tmp_path / "airhook.yaml"
    config.write_text(AIRFLOW_CONFIG)
    env = {"AIRFLOW_URL": airflow3.url, "AIRFLOW_PASSWORD": airflow3.password}
    result = airhook("check", str(config), "--airflow", env=env)
    assert result.code == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{config}:10: routes[1] (billing).dag_id: DAG 'billing_sync' is paused: its runs would be created "
        "but never start",
        f"{config}:11: routes[2] (missing).dag_id: DAG 'no_such_dag' does not exist in Airflow",
        f"{config}:13: routes[4] (no-asset).asset: asset 'no_such_asset' does not exist in Airflow",
        "3 problems",
    ]
    good = tmp_path / "good.yaml"
    good.write_text(AIRFLOW_CONFIG.split("  - {name: billing")[0] + "  - {name: orders, source: github, asset: orders}\n")
    result = airhook("check", str(good), "--airflow", env=env)
    assert (result.code, result.stdout) == (0, f"{good}: OK (1 source, 2 routes, Airflow agrees)\n")


def test_airflow_unreachable_is_a_problem(tmp_path: Path) -> None:
    config = tmp_path / "airhook.yaml"
    config.write_text(AIRFLOW_CONFIG)
    result = airhook("check", str(config), "--airflow",
                     env={"AIRFLOW_URL": "http://127.0.0.1:9", "AIRFLOW_PASSWORD": "x"})
    assert result.code == 1
    [problem, total] = result.stdout.splitlines()
    # the probe carries the configured credentials: with airflow-jwt, the token comes first
    assert problem.startswith(f"{config}:3: airflow: cannot ask Airflow: POST http://127.0.0.1:9/auth/token")
    assert total == "1 problem"
