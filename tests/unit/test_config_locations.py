"""A ConfigError's location as data (``path``, ``key``, ``file``, ``line``), and
:func:`airhook.config.problems`: every problem, not just the first, each located, so that no
tool parses a message to find the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from airhook import config
from airhook.errors import ConfigError, KeyPath
from tests.unit.test_config import BASE, ENV, with_change


@pytest.mark.parametrize("change, value, path, key", [
    ("airflow", ..., (), None),
    ("extra", {}, (), None),  # "top level: unknown key(s) extra": no section to point into
    ("airflow.url", "ftp://x", ("airflow", "url"), None),
    ("airflow.auth", {"type": "magic"}, ("airflow", "auth", "type"), None),
    ("airflow.auth", {"type": "bearer"}, ("airflow", "auth", "token"), None),
    ("airflow.auth", {"type": "bearer", "token": "t", "user": "u"}, ("airflow", "auth"), "user"),
    ("sources", {}, ("sources",), None),
    ("sources.github.type", "gitbucket", ("sources", "github", "type"), None),
    ("sources.github.secrets", [], ("sources", "github", "secrets"), None),
    ("sources.github.secret", "x", ("sources", "github"), "secret"),
    ("sources.github.deadline", 0, ("sources", "github", "deadline"), None),
    ("routes", {}, ("routes",), None),
    ("routes.0.name", "has space", ("routes", 0, "name"), None),
    ("routes.0.source", "gitlab", ("routes", 0, "source"), None),
    ("routes.0.when", "body.ref ==", ("routes", 0, "when"), None),
    ("routes.0.conf", {"sha": "body.[after"}, ("routes", 0, "conf", "sha"), None),
    ("routes.0.dag", "x", ("routes", 0), "dag"),
])
def test_parse_errors_carry_their_location(change: str, value: Any, path: KeyPath, key: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(with_change(change, value), ENV, "airhook.yaml")
    error = caught.value
    assert (error.path, error.key, error.file, error.line) == (path, key, "airhook.yaml", None)
    assert error.where == (path + (key,) if key else path)


def test_a_scrubbed_message_keeps_its_location() -> None:
    """The location is read before a variable's value is replaced by its name."""
    with pytest.raises(ConfigError) as caught:
        config.parse(with_change("airflow.api", "${API}"), {**ENV, "API": "v3"})
    assert caught.value.detail == "airflow.api: expected one of v1, v2, auto (from ${API})"
    assert caught.value.path == ("airflow", "api")


def test_load_errors_carry_the_file_and_keep_the_message(tmp_path: Path) -> None:
    path = tmp_path / "airhook.yaml"
    path.write_text("airflow: {url: 'ftp://x'}\nsources: {github: {type: github, secrets: [s]}}\nroutes: []\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path, {})
    error = caught.value
    assert error.detail == f"{path}: airflow.url: expected an http:// or https:// URL, got 'ftp://x'"
    assert (error.path, error.file) == (("airflow", "url"), str(path))


@pytest.mark.parametrize("detail, path, key", [
    ("sources.github.secrets[1]: not a whsec_<base64> secret", ("sources", "github", "secrets", 1), None),
    ("routes[2] (a.b).conf.x: invalid JMESPath expression 'a(': ...", ("routes", 2, "conf", "x"), None),
    ("sources.tool: unknown key(s) secret, x; expected type", ("sources", "tool"), "secret"),
    ("environment variable(s) not set: A", (), None),
    ("nothing: here", (), None),
])
def test_locate_reads_the_builders_convention(detail: str, path: KeyPath, key: str | None) -> None:
    error = config.locate(ConfigError(detail))
    assert (error.path, error.key, error.detail) == (path, key, detail)


def test_locate_keeps_a_location_given_as_data() -> None:
    given = ConfigError("sources.a.b: x", path=("routes", 1))
    assert config.locate(given) is given


def broken() -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document["routes"][0]["when"] = "body.ref =="
    document["routes"].append({**copy.deepcopy(BASE["routes"][0]), "dag_id": "bad dag"})
    document["sources"]["stripe"] = {"type": "stripe", "secret": ["whsec_x"]}
    document["delivery"] = {"mode": "carrier-pigeon"}
    document["extra"] = 1
    return document


def test_problems_reports_every_problem_located() -> None:
    document = config.substitute(broken(), ENV)
    found = config.problems(document, "airhook.yaml")
    assert [(e.detail, e.where, e.file) for e in found] == [
        ("extra: unknown top-level key; expected airflow, sources, routes, delivery", ("extra",), "airhook.yaml"),
        ("sources.stripe: unknown key(s) secret",
         ("sources", "stripe", "secret"), "airhook.yaml"),
        ("routes[0] (deploy-main).when: invalid JMESPath expression 'body.ref ==': "
         + found[2].detail.split(": ", 2)[2], ("routes", 0, "when"), "airhook.yaml"),
        ("routes[1] (deploy-main).dag_id: 'bad dag' is not a valid Airflow DAG id",
         ("routes", 1, "dag_id"), "airhook.yaml"),
        ("routes[1] (deploy-main).name: duplicate route name 'deploy-main' (first at routes[0].name)",
         ("routes", 1, "name"), "airhook.yaml"),
        ("delivery.mode: expected one of direct, queue", ("delivery", "mode"), "airhook.yaml"),
    ]


def test_problems_sets_lines_and_leaves_out_what_it_is_told_to() -> None:
    document = config.substitute(broken(), ENV)
    lines = {("routes", 0, "name"): 13}
    found = config.problems(document, line_of=lambda where: lines.get(where, len(where)),
                            ignore=lambda path: path[:1] == ("sources",))
    assert [(e.line, e.detail.split(":")[0]) for e in found] == [
        (1, "extra"), (3, "routes[0] (deploy-main).when"), (3, "routes[1] (deploy-main).dag_id"),
        (3, "routes[1] (deploy-main).name"), (2, "delivery.mode"),
    ]
    assert found[3].detail.endswith("(first at line 13)")


@pytest.mark.parametrize("document, details", [
    (BASE, []),
    ([], ["the configuration must be a mapping with airflow, sources and routes"]),
    ({"airflow": BASE["airflow"]}, ["missing section 'sources'", "missing section 'routes'"]),
    ({**BASE, "sources": []}, ["sources: expected a mapping with at least one source",
                               "routes[0] (deploy-main).source: no source named 'github' (configured: )"]),
    ({**BASE, "routes": {}}, ["routes: expected a list"]),
])
def test_problems_of_the_document_as_a_whole(document: Any, details: list[str]) -> None:
    document = config.substitute(document, {**ENV, "OLD": ""})
    assert [e.detail for e in config.problems(document)] == details
