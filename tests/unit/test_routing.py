"""Routing: which routes match a delivery, the conf they build and their run ids."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from airhook import config
from airhook.delivery import Delivery
from airhook.errors import ConfNotStorable, RouteError
from airhook.routing import default_run_id, explain, route, unstorable
from tests.conftest import payload

RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]+$")


def load(routes: list[dict[str, Any]]) -> config.Config:
    return config.parse({
        "airflow": {"url": "http://127.0.0.1:1"},
        "sources": {"github": {"type": "github", "secrets": ["s"]},
                    "other": {"type": "github", "secrets": ["s"]}},
        "routes": routes,
    }, {})


def delivery(event: str = "push", name: str = "payload.json", delivery_id: str = "d-1",
             source: str = "github") -> Delivery:
    return Delivery(source=source, event=event, delivery_id=delivery_id,
                    body=json.loads(payload(event, name)), headers={"x-github-event": event})


DEPLOY = {"name": "deploy-main", "source": "github", "events": ["push"], "dag_id": "deploy",
          "when": "body.ref == 'refs/heads/master'",
          "conf": {"sha": "body.after", "repo": "body.repository.full_name",
                   "files": "body.head_commit.modified", "event": "event", "literal": "'prod'"}}


def test_matching_route_builds_conf_from_the_real_payload() -> None:
    [trigger] = route(load([DEPLOY]).routes, delivery(name="with-new-branch.payload.json"))
    body = json.loads(payload("push", "with-new-branch.payload.json"))
    assert trigger.dag_id == "deploy"
    assert trigger.conf == {"sha": body["after"], "repo": body["repository"]["full_name"],
                            "files": body["head_commit"]["modified"], "event": "push", "literal": "prod"}
    assert trigger.dag_run_id == "airhook__github__deploy-main__d-1"
    assert trigger.note == "airhook: github push delivery d-1"


@pytest.mark.parametrize("change, reason", [
    ({"events": ["pull_request"]}, "event 'push' not in"),
    ({"when": "body.ref == 'refs/heads/main'"}, "'when' is false"),
    ({"when": "starts_with(body.nothing, 'x')"}, "could not be evaluated"),
    ({"source": "other"}, "source is 'github'"),
])
def test_non_matching_routes_say_why(change: dict[str, Any], reason: str) -> None:
    [(decision, trigger)] = explain(load([{**DEPLOY, **change}]).routes,
                                    delivery(name="with-new-branch.payload.json"))
    assert not decision.matched and reason in decision.reason and trigger is None


@pytest.mark.parametrize("when, matched", [
    ("body.repository", True), ("body.commits", False), ("body.nothing", False), ("`[]`", False), ("`{}`", False),
    ("''", False), ("`false`", False), ("`0`", True), ("'x'", True),
])
def test_when_uses_jmespath_truthiness(when: str, matched: bool) -> None:
    triggers = route(load([{**DEPLOY, "when": when}]).routes, delivery())
    assert bool(triggers) is matched


def test_no_events_list_matches_every_event() -> None:
    routes = load([{"name": "all", "source": "github", "dag_id": "audit"}]).routes
    assert len(route(routes, delivery("issues", "opened.payload.json"))) == 1


def test_several_routes_in_order() -> None:
    routes = load([DEPLOY, {**DEPLOY, "name": "audit", "dag_id": "audit", "when": None},
                   {**DEPLOY, "name": "never", "events": ["release"]}]).routes
    triggers = route(routes, delivery(name="with-new-branch.payload.json"))
    assert [(t.route, t.dag_id) for t in triggers] == [("deploy-main", "deploy"), ("audit", "audit")]


def test_run_id_and_note_overrides() -> None:
    routes = load([{**DEPLOY, "run_id": "join('-', ['gh', delivery_id])", "note": "body.head_commit.message"}]).routes
    [trigger] = route(routes, delivery(name="with-new-branch.payload.json"))
    assert trigger.dag_run_id == "gh-d-1" and trigger.note


@pytest.mark.parametrize("run_id", ["'has space'", "body.commits", "body.nothing"])
def test_invalid_run_id_override_is_a_route_error(run_id: str) -> None:
    with pytest.raises(RouteError, match="run_id"):
        route(load([{**DEPLOY, "run_id": run_id}]).routes, delivery(name="with-new-branch.payload.json"))


def test_conf_evaluation_error_is_a_route_error_without_payload_values() -> None:
    routes = load([{**DEPLOY, "conf": {"x": "length(body.after)"}, "when": None}]).routes
    assert route(routes, delivery())  # a string: fine
    routes = load([{**DEPLOY, "conf": {"x": "abs(body.after)"}, "when": None}]).routes
    with pytest.raises(RouteError) as caught:
        route(routes, delivery())
    assert "conf.x" in caught.value.public


@pytest.mark.parametrize("delivery_id", [
    "72d3162e-cc78-11e3-81ab-4c9367dc0958", "sha256-abc", "a" * 200, "has space", "é", "a/b",
])
def test_default_run_ids_are_valid_and_deterministic(delivery_id: str) -> None:
    run_id = default_run_id("github", "deploy-main", delivery_id)
    assert RUN_ID.match(run_id) and len(run_id) <= 250
    assert run_id == default_run_id("github", "deploy-main", delivery_id)


def test_distinct_deliveries_and_routes_get_distinct_run_ids() -> None:
    ids = {default_run_id("github", route_name, d)
           for route_name in ("a", "b") for d in ("x y", "x_y", "x-y", "a" * 300, "a" * 301)}
    assert len(ids) == 10


def test_conf_values_nested_too_deep_are_a_route_error() -> None:
    deep: object = "leaf"
    for _ in range(70):
        deep = {"a": deep}
    routes = load([{**DEPLOY, "when": None, "conf": {"x": "body.deep"}}]).routes
    with pytest.raises(RouteError, match="conf.x"):
        route(routes, Delivery(source="github", event="push", delivery_id="d", body={"deep": deep}))


# ---------------------------------------------------------------------------- values no Airflow can store


@pytest.mark.parametrize("value, problem", [
    ("a\x00b", "a NUL character"),
    ({"k": ["ok", "x\x00"]}, "a NUL character"),
    ({"key\x00": 1}, "a NUL character"),  # keys are stored too
    ("lone \udc80", "a lone surrogate"),
    ("\ud83d", "a lone surrogate"),
    (float("nan"), "nan, which is not JSON"),
    ([float("inf")], "inf, which is not JSON"),
    (-float("inf"), "-inf, which is not JSON"),
])
def test_unstorable_conf_is_refused_naming_route_and_key(value: Any, problem: str) -> None:
    routes = load([{**DEPLOY, "when": None, "conf": {"title": "body.value", "sha": "body.after"}}]).routes
    with pytest.raises(ConfNotStorable) as caught:
        route(routes, Delivery(source="github", event="push", delivery_id="d", body={"value": value, "after": "x"}))
    assert caught.value.status == 422 and caught.value.code == "conf_not_storable"
    assert "route 'deploy-main': conf.title holds" in caught.value.public and problem in caught.value.public
    assert "\x00" not in caught.value.public  # the value itself is never echoed


@pytest.mark.parametrize("value", [
    "plain", "emoji \U0001F600", "\u2028 separators", "", 0, -1.5, 1e308, 10**30, True, None,
    {"nested": [1, "two", {"three": None}]}, [],
])
def test_storable_conf_passes(value: Any) -> None:
    routes = load([{**DEPLOY, "when": None, "conf": {"v": "body.value"}}]).routes
    [trigger] = route(routes, Delivery(source="github", event="push", delivery_id="d", body={"value": value}))
    assert trigger.conf == {"v": value} and unstorable(value) is None


@pytest.mark.parametrize("note, expected", [
    ("'fine'", "fine"),
    ("body.value", "x\ufffdy\ufffdz"),  # a label: scrubbed rather than refused
])
def test_notes_are_scrubbed_not_refused(note: str, expected: str) -> None:
    routes = load([{**DEPLOY, "when": None, "note": note}]).routes
    [trigger] = route(routes, Delivery(source="github", event="push", delivery_id="d",
                                       body={"value": "x\x00y\udc80z"}))
    assert trigger.note == expected


def test_default_note_with_an_unstorable_delivery_id_is_scrubbed() -> None:
    [trigger] = route(load([{**DEPLOY, "when": None}]).routes, delivery(delivery_id="d\x00-1"))
    assert trigger.note == "airhook: github push delivery d\ufffd-1" and unstorable(trigger.dag_run_id) is None


@pytest.mark.parametrize("text, expected", [
    ("short", "short"),
    ("n" * 1000, "n" * 1000),
    ("n" * 1001, "n" * 999 + "\u2026"),
    ("a\x00b", "a\ufffdb"),
])
def test_notes_fit_airflows_column(text: str, expected: str) -> None:
    """Airflow keeps a run's note in 1,000 characters and answers 422 to a longer one."""
    from airhook.routing import scrub
    assert scrub(text) == expected


def test_a_library_type_error_in_an_expression_is_a_route_error_not_a_500() -> None:
    """jmespath 1.1.0's max_by raises a bare TypeError comparing mixed types (found by the long
    bad-input profile as a 500): in `when` the route does not match, in `conf` it is a RouteError."""
    import jmespath

    from airhook.errors import RouteError
    from airhook.routing import _evaluate, decide

    document = {"body": {"items": [{"n": ""}, {"n": 0}]}}
    route = type("R", (), {"name": "r", "source": "s", "events": None,
                           "when": jmespath.compile("max_by(body.items, &n) != null")})()
    delivery = type("D", (), {"source": "s", "event": "e"})()
    decision = decide(route, delivery, document)  # type: ignore[arg-type]
    assert not decision.matched and decision.reason == "'when' could not be evaluated: TypeError"
    with pytest.raises(RouteError, match="conf.x failed: TypeError"):
        _evaluate(route, "conf.x", jmespath.compile("max_by(body.items, &n)"), document)  # type: ignore[arg-type]
