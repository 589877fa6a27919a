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


# ------------------------------------------------------------------------------------ secrets never echoed

#: A value that must never appear in an error, whatever key it was given to.
LEAK = "hunter2-Secret-Value"


@pytest.mark.parametrize("path, value, key", [
    ("airflow.url", "ftp://admin:${LEAKED}@airflow.example", "airflow.url"),
    ("airflow.url", "${LEAKED}", "airflow.url"),
    ("airflow.composer_environment", "${LEAKED}", "airflow.composer_environment"),
    ("airflow.auth", {"type": "mwaa", "environment": "${LEAKED}!", "region": "us-east-1"}, "airflow.auth.environment"),
    ("airflow.auth", {"type": "mwaa", "environment": "env", "region": "${LEAKED}"}, "airflow.auth.region"),
    ("airflow.api", "${LEAKED}", "airflow.api"),
    ("routes.0.dag_id", "${LEAKED}/x", "routes[0] (deploy-main).dag_id"),
    ("routes.0.source", "${LEAKED}", "routes[0] (deploy-main).source"),
    ("delivery", {"mode": "queue", "topic": "${LEAKED}", "dead_letter_topic": "${LEAKED}"}, "delivery.topic"),
    ("delivery", {"mode": "${LEAKED}"}, "delivery.mode"),
    # a sender's own option (senders/common.py), through the same scrubbing
    ("sources.github", {"type": "token", "tokens": ["t"], "header": "${LEAKED} :"}, "sources.github.header"),
])
def test_config_errors_name_the_key_and_the_variable_never_its_value(
        path: str, value: Any, key: str, tmp_path: Path) -> None:
    """Issue 12.5: an error about a value from ${VAR} names the key and ${VAR}, not the value,
    whether it is raised by parse or by load (the file's name prefixed)."""
    env = {**ENV, "LEAKED": LEAK}
    with pytest.raises(ConfigError) as caught:
        config.parse(with_change(path, value), env)
    detail = caught.value.detail
    assert LEAK not in detail and LEAK not in str(caught.value)
    assert key in detail and "${LEAKED}" in detail


def test_load_errors_do_not_echo_values_either(tmp_path: Path) -> None:
    path = tmp_path / "airhook.yaml"
    path.write_text("airflow: {url: '${AIRFLOW_URL}'}\nsources: {}\nroutes: []\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path, {"AIRFLOW_URL": f"gopher://{LEAK}"})
    assert LEAK not in caught.value.detail and "${AIRFLOW_URL}" in caught.value.detail


def test_short_values_are_scrubbed_where_quoted_only() -> None:
    """A three-character value is no secret; replacing every ``v3`` in a message would garble it."""
    assert config.scrub("airflow.api: expected v1, got 'v3'", {"API": "v3"}) == "airflow.api: expected v1, got '${API}'"
    assert config.scrub("timeout between 0 and 300", {"T": "0"}) == "timeout between 0 and 300"


# ------------------------------------------------------------------------------------ roles (least privilege)

KEY = "k" * 32
QUEUE: dict[str, Any] = {
    "mode": "queue", "topic": "projects/p/topics/deliveries", "dead_letter_topic": "projects/p/topics/dead",
    "signing_keys": ["${AIRHOOK_SIGNING_KEY}", "${AIRHOOK_SIGNING_KEY_PREVIOUS:-}"],
    "push": {"audience": "${AIRHOOK_PUSH_AUDIENCE}", "service_accounts": ["${AIRHOOK_PUSH_SERVICE_ACCOUNT}"]}}
QUEUE_ENV = {"AIRHOOK_SIGNING_KEY": KEY, "AIRHOOK_PUSH_AUDIENCE": "https://r-p.cloudfunctions.net/a-deliver",
             "AIRHOOK_PUSH_SERVICE_ACCOUNT": "A-Push@p.iam.gserviceaccount.com"}
AIRFLOW_SECRETS = ("AIRFLOW_URL", "AIRFLOW_USER", "AIRFLOW_PASSWORD")


def queue_document(**delivery: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), "delivery": {**QUEUE, **delivery}}


def test_all_roles_read_everything() -> None:
    loaded = config.parse(queue_document(), {**ENV, **QUEUE_ENV})
    assert loaded.role == "all" and loaded.airflow.auth.password == "pw" and "github" in loaded.sources
    assert loaded.delivery.signing_keys == (KEY.encode(),)
    assert loaded.delivery.push == config.PushAuth(("https://r-p.cloudfunctions.net/a-deliver",),
                                                   frozenset({"a-push@p.iam.gserviceaccount.com"}))
    assert KEY not in repr(loaded.delivery)


def test_receive_needs_and_holds_no_airflow_credentials() -> None:
    env = {k: v for k, v in {**ENV, **QUEUE_ENV}.items() if k not in AIRFLOW_SECRETS}
    env.pop("AIRHOOK_PUSH_AUDIENCE"), env.pop("AIRHOOK_PUSH_SERVICE_ACCOUNT")
    loaded = config.parse(queue_document(), {**env, "AIRHOOK_ROLE": "receive"})
    assert loaded.role == "receive" and loaded.airflow == config.AirflowConfig()
    assert loaded.sources["github"].secrets == (b"s1",)  # type: ignore[attr-defined]
    assert loaded.delivery.signing_keys == (KEY.encode(),) and loaded.delivery.push is None


def test_deliver_needs_and_holds_no_webhook_secrets() -> None:
    env = {k: v for k, v in {**ENV, **QUEUE_ENV}.items() if k != "GITHUB_WEBHOOK_SECRET"}
    loaded = config.parse(queue_document(), {**env, "AIRHOOK_ROLE": "deliver"})
    assert loaded.role == "deliver" and dict(loaded.sources) == {}
    assert loaded.airflow.auth.password == "pw"
    assert [(r.name, r.source, r.dag_id) for r in loaded.routes] == [("deploy-main", "github", "deploy")]


@pytest.mark.parametrize("role, env, delivery, message", [
    ("root", {}, {}, "AIRHOOK_ROLE: expected one of all, receive, deliver"),
    ("receive", {}, None, "AIRHOOK_ROLE=receive: only for delivery.mode: queue"),
    ("deliver", {}, None, "AIRHOOK_ROLE=deliver: only for delivery.mode: queue"),
    # each role still needs its own variables
    ("receive", {"GITHUB_WEBHOOK_SECRET": None}, {}, "not set: GITHUB_WEBHOOK_SECRET"),
    ("deliver", {"AIRFLOW_PASSWORD": None}, {}, "not set: AIRFLOW_PASSWORD"),
    ("deliver", {"AIRHOOK_SIGNING_KEY": None}, {}, "not set: AIRHOOK_SIGNING_KEY"),
    # the message-signing key and the push identity
    ("all", {}, {"signing_keys": ...}, "delivery.signing_keys: required in queue mode"),
    ("all", {"AIRHOOK_SIGNING_KEY": "short"}, {}, "signing_keys: each key needs at least 32 bytes"),
    ("all", {"AIRHOOK_SIGNING_KEY": ""}, {}, "signing_keys: at least one non-empty key"),
    ("all", {}, {"push": ...}, "delivery.push: required where deliver runs"),
    ("deliver", {}, {"push": ...}, "delivery.push: required where deliver runs"),
    ("all", {}, {"push": {"service_accounts": ["a@b"]}}, "delivery.push.audience"),
    ("all", {}, {"push": {"audience": "x"}}, "delivery.push.service_accounts"),
    ("all", {}, {"push": {"audience": "x", "service_accounts": ["a@b"], "certs_url": "http://certs.example/"}},
     "loopback"),
    ("all", {}, {"push": {"audience": "x", "service_accounts": ["a@b"], "verify": False}}, "unknown key"),
])
def test_invalid_roles_and_queue_security(role: str, env: dict[str, Any], delivery: Any, message: str) -> None:
    environ = {**ENV, **QUEUE_ENV, **env, "AIRHOOK_ROLE": role}
    environ = {k: v for k, v in environ.items() if v is not None}
    document = copy.deepcopy(BASE) if delivery is None else queue_document()
    if delivery:
        document["delivery"] = {k: v for k, v in {**QUEUE, **delivery}.items() if v is not ...}
    with pytest.raises(ConfigError, match=message):
        config.parse(document, environ)


def test_signing_and_push_are_ignored_in_direct_mode() -> None:
    """One routes file may serve both modes (bench/durable.py switches with ${MODE})."""
    loaded = config.parse({**BASE, "delivery": {"signing_keys": ["short"], "push": {}}}, ENV).delivery
    assert (loaded.signing_keys, loaded.push) == ((), None)


def test_a_previous_key_verifies_during_a_rotation() -> None:
    loaded = config.parse(queue_document(), {**ENV, **QUEUE_ENV, "AIRHOOK_SIGNING_KEY_PREVIOUS": "p" * 32})
    assert loaded.delivery.signing_keys == (KEY.encode(), b"p" * 32)


@pytest.mark.parametrize("dag_id", [".", "..", "...", "deploy\n"])
def test_dag_ids_that_are_path_segments_are_refused(dag_id: str) -> None:
    with pytest.raises(ConfigError, match="not a valid Airflow DAG id"):
        config.parse(with_change("routes.0.dag_id", dag_id), ENV)
