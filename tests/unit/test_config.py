"""Configuration: substitution, validation, and errors that name the problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from airhook import config
from airhook.errors import ConfigError
from tests.conftest import ROOT

ENV = {"AIRFLOW_URL": "http://127.0.0.1:8080", "AIRFLOW_USER": "admin", "AIRFLOW_PASSWORD": "pw",
       "GITHUB_WEBHOOK_SECRET": "s1"}

BASE: dict[str, Any] = {
    "airflow": {"url": "${AIRFLOW_URL}", "auth": {"type": "basic", "username": "${AIRFLOW_USER}",
                                                  "password": "${AIRFLOW_PASSWORD}"}},
    "sources": {"github": {"type": "github", "secrets": ["${GITHUB_WEBHOOK_SECRET}", "${OLD:-}"]}},
    "routes": [{"name": "deploy-main", "source": "github", "events": ["push"],
                "when": "body.ref == 'refs/heads/main'", "dag_id": "deploy",
                "conf": {"sha": "body.after"}}],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with one key changed (``routes.0.when``); value ``...`` deletes it."""
    document = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return document


def test_shipped_config_loads() -> None:
    loaded = config.load(ROOT / "airhook.yaml", ENV)
    assert loaded.airflow.url == "http://127.0.0.1:8080"
    assert loaded.airflow.auth.type == "airflow-jwt"
    assert loaded.sources["github"].secrets == (b"s1",)  # type: ignore[attr-defined]
    assert [r.name for r in loaded.routes] == ["deploy-main"]


def test_substitution_and_defaults() -> None:
    loaded = config.parse(BASE, ENV)
    assert loaded.airflow.auth.password == "pw"
    assert loaded.sources["github"].secrets == (b"s1",)  # type: ignore[attr-defined]
    assert config.parse(BASE, {**ENV, "OLD": "s0"}).sources["github"].secrets == (b"s1", b"s0")  # type: ignore[attr-defined]


def test_literal_dollar_brace() -> None:
    assert config.substitute({"a": "$${NOT_A_VAR} ${X}"}, {"X": "1"}) == {"a": "${NOT_A_VAR} 1"}


def test_variables_inside_flow_mappings(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("""
airflow: {url: "${AIRFLOW_URL}", auth: {type: basic, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}}
sources: {github: {type: github, secrets: [${GITHUB_WEBHOOK_SECRET}, "${OLD:-}"]}}
routes: [{name: r, source: github, dag_id: d, note: "'$${literal}'"}]
""")
    env = {**ENV, "AIRFLOW_PASSWORD": "p: {w}, #x"}  # YAML syntax in a value stays a value
    loaded = config.load(path, env)
    assert loaded.airflow.auth.username == "admin" and loaded.airflow.auth.password == "p: {w}, #x"
    assert loaded.routes[0].note is not None and loaded.routes[0].note.text == "'${literal}'"


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(ConfigError, match="not set: AIRFLOW_PASSWORD, GITHUB_WEBHOOK_SECRET"):
        config.parse(BASE, {"AIRFLOW_URL": "http://x", "AIRFLOW_USER": "u"})


def test_secrets_are_not_in_reprs() -> None:
    loaded = config.parse(BASE, ENV)
    assert "pw" not in repr(loaded.airflow) and "s1" not in repr(loaded.sources)


@pytest.mark.parametrize("path, value, message", [
    ("airflow", ..., "missing section 'airflow'"),
    ("extra", {}, "unknown key"),
    ("airflow.url", "ftp://x", "airflow.url: expected an http"),
    ("airflow.api", "v3", "airflow.api"),
    ("airflow.timeout", 0, "airflow.timeout"),
    ("airflow.auth", {"type": "magic"}, "airflow.auth.type"),
    ("airflow.auth", {"type": "bearer"}, "airflow.auth.token"),
    ("airflow.auth", {"type": "basic", "username": "u"}, "airflow.auth.password"),
    ("sources", {}, "at least one source"),
    ("sources.github.type", "gitbucket", "unknown sender type"),
    ("sources.github.secrets", [], "at least one non-empty secret"),
    ("sources.github.secrets", ["${OLD:-}"], "at least one non-empty secret"),
    ("sources.github.secret", "x", "unknown key"),
    ("sources.github.deadline", 0, "sources.github.deadline"),
    ("sources.github.deadline", "9", "sources.github.deadline"),
    ("routes", {}, "routes: expected a list"),
    ("routes.0.name", "has space", r"routes\[0\] \(has space\)\.name: expected a name"),
    ("routes.0.source", "gitlab", "no source named 'gitlab'"),
    ("routes.0.dag_id", "bad/dag", "not a valid Airflow DAG id"),
    ("routes.0.events", [], "events"),
    ("routes.0.when", "body.ref ==", r"routes\[0\] \(deploy-main\)\.when: invalid JMESPath"),
    ("routes.0.conf", {"sha": "body.[after"}, r"routes\[0\] \(deploy-main\)\.conf\.sha: invalid JMESPath"),
    ("routes.0.conf", {"sha": 3}, r"conf\.sha: expected a JMESPath"),
    ("routes.0.run_id", "[", r"\.run_id: invalid JMESPath"),
    ("routes.0.dag", "x", "unknown key"),
])
def test_invalid_configs(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.parse(with_change(path, value), ENV)


def test_duplicate_route_names() -> None:
    document = copy.deepcopy(BASE)
    document["routes"].append(copy.deepcopy(document["routes"][0]))
    with pytest.raises(ConfigError, match="duplicate route name 'deploy-main'"):
        config.parse(document, ENV)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("airflow: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        config.load(bad, ENV)
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load(tmp_path / "absent.yaml", ENV)


def test_deadlines_default_per_sender_type() -> None:
    assert config.parse(BASE, ENV).deadline("github") == 9.0
    assert config.parse(with_change("sources.github.deadline", 4), ENV).deadline("github") == 4.0


def test_default_path() -> None:
    assert config.default_path({}) == Path("airhook.yaml")
    assert config.default_path({"AIRHOOK_CONFIG": "/etc/a.yaml"}) == Path("/etc/a.yaml")
