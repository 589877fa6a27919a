"""The plugin's framework-free core and its packaging, without Airflow: the routes file without
``airflow:``, a bad config answering 503 (never raising), and what ``pip install`` would bring."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from airhook.plugin import core
from airhook.receiver import Response

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
sources:
  github: {type: github, secrets: ["${SECRET}"]}
routes:
  - {name: deploy, source: github, events: [push], dag_id: deploy}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "airhook.yaml"
    path.write_text(text)
    return path


def test_airflow_section_is_optional_and_ignored(tmp_path: Path) -> None:
    config = core.load_config(_write(tmp_path, GOOD), {"SECRET": "s"})
    assert [r.name for r in config.routes] == ["deploy"]
    with_airflow = "airflow: {url: https://elsewhere.example, auth: {type: bearer, token: t}}\n" + GOOD
    assert core.load_config(_write(tmp_path, with_airflow), {"SECRET": "s"}).airflow.auth.type == "none"


@pytest.mark.parametrize("text, reason", [
    (None, "cannot read config file"),
    ("sources: [\n", "invalid YAML"),
    ("sources: {github: {type: github}}\nroutes: []\n", "secrets"),
    (GOOD, "SECRET"),  # a variable that is not set
    ("[]", "must be a mapping"),
])
def test_a_bad_config_is_logged_and_answers_503(tmp_path: Path, text: str | None, reason: str) -> None:
    path = tmp_path / "missing.yaml" if text is None else _write(tmp_path, text)
    logged: list[tuple[Any, ...]] = []
    state = core.build_state(3, path=path, log=lambda *a, **k: logged.append((a, k)))
    assert state.receiver is None and reason in (state.error or "")
    [(args, fields)] = logged
    assert args[0] == "CRITICAL" and reason in args[1] and fields["error"] == "config_error"
    webhook = state.handle("POST", "github", {}, lambda limit: b"{}")
    assert webhook == Response(503, {"error": "config_error",
                                     "message": "airhook is misconfigured; see the Airflow web server's log"})
    assert state.handle("GET", "_health", {}, lambda limit: b"").status == 503


def test_a_good_config_answers_as_the_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET", "s")
    state = core.build_state(3, path=_write(tmp_path, GOOD))
    assert state.receiver is not None
    assert state.handle("GET", "_health", {}, lambda limit: b"") == Response(200, {"status": "ok"})
    assert state.handle("POST", "nope", {}, lambda limit: b"").status == 404
    unsigned = state.handle("POST", "github", {"x-github-event": "push", "x-github-delivery": "d"},
                            lambda limit: b"{}")
    assert unsigned.status == 401 and unsigned.body["error"] == "unauthorized"
    oversized = state.handle("POST", "github", {"content-length": str(10**9)},
                             lambda limit: pytest.fail("the body was read"))
    assert oversized.status == 413


def test_the_package_registers_the_plugin_and_pins_nothing() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["airflow.plugins"] == {"airhook": "airhook.plugin.entry:AirhookPlugin"}
    assert "airflow" in project["optional-dependencies"]
    # Open ranges only: Airflow's environment decides the versions (tools/plugin_airflow.py checks
    # on real Airflow 2.11 and 3.3 that installing changes none of its packages).
    assert all("==" not in d for d in project["dependencies"]), project["dependencies"]


def test_the_function_deploys_only_what_it_uses() -> None:
    """requests is the CLI's (and the tests'); Cloud Functions installs requirements.txt (urllib3: httpconn)."""
    deployed = {line.split("==")[0].lower() for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line and not line.startswith("#")}
    assert deployed == {"functions-framework", "flask", "google-auth", "jmespath", "pyyaml", "urllib3"}
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev and "\nrequests==" in dev


@pytest.mark.parametrize("answers, expected, warned", [
    ([True], True, True),
    ([False], False, False),
    ([None], None, False),                     # no such DagModel row: not known
    ([RuntimeError("db down")], None, False),  # never raises: the run exists all the same
])
def test_a_paused_dag_is_reported_once_a_minute(answers: list[Any], expected: bool | None,
                                                warned: bool) -> None:
    from airhook.airflow.client import Outcome
    from airhook.airflow.paused import PAUSED_TTL
    from airhook.routing import Trigger
    now = [0.0]
    logged: list[tuple[Any, ...]] = []
    client = core.LocalAirflowClient(major=3, clock=lambda: now[0], log=lambda *a, **k: logged.append((a, k)))

    def lookup(dag_id: str) -> bool | None:
        answer = answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    client._lookup_paused = lookup  # type: ignore[method-assign]
    trigger = Trigger(route="r", dag_id="d", dag_run_id="airhook__s__r__1", conf={})
    for status in ("queued", "duplicate"):
        outcome = client._with_paused(trigger, Outcome(status, 200))
        assert outcome == Outcome(status, 200, expected)
    assert client.paused_lookups == 1
    now[0] += PAUSED_TTL + 1
    client.dag_paused("d")
    assert client.paused_lookups == 2
    assert [a[0] for a, _ in logged] == (["WARNING"] * 2 if warned else [])
    if warned:
        assert logged[0][1]["dag_paused"] is True and logged[0][1]["dag_id"] == "d"


def test_airflow3_drains_as_the_function() -> None:
    """fastapi_app repeats airhook.http's drain bounds (it cannot import Flask): they stay equal."""
    import ast

    from airhook import http
    tree = ast.parse((ROOT / "airhook" / "plugin" / "fastapi_app.py").read_text())
    values = {t.id: ast.literal_eval(node.value) if not isinstance(node.value, ast.BinOp) else eval(
        compile(ast.Expression(node.value), "fastapi_app", "eval"))
        for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    assert (values["DRAIN_MAX_BYTES"], values["DRAIN_SECONDS"]) == (http.DRAIN_MAX_BYTES, http.DRAIN_SECONDS)
