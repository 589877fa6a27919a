"""The closed sets and the "a DAG or an asset" union (issue 13): each Literal is the set the config
checks at run time, and a route or a trigger holds exactly one of DagTarget and AssetTarget."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from airhook import config
from airhook.config import (
    API_VERSIONS,
    AUTH_TYPES,
    DELIVERY_MODES,
    ROLES,
    ApiVersion,
    AssetTarget,
    AuthType,
    DagTarget,
    DeliveryMode,
    Role,
)
from airhook.delivery import Delivery
from airhook.envelope import KINDS, Envelope, EnvelopeKind
from airhook.errors import ConfigError
from airhook.responses import DISCLOSURES, Disclosure
from airhook.routing import Trigger, route
from airhook.senders.locators import LocatorKind, locator_option

#: (the Literal, the tuple the config checks against, the values it must hold)
CLOSED_SETS = [
    (AuthType, AUTH_TYPES, ("basic", "airflow-jwt", "bearer", "google", "mwaa", "none")),
    (ApiVersion, API_VERSIONS, ("v1", "v2", "auto")),
    (DeliveryMode, DELIVERY_MODES, ("direct", "queue")),
    (Role, ROLES, ("all", "receive", "deliver")),
    (Disclosure, DISCLOSURES, ("full", "minimal")),
    (EnvelopeKind, KINDS, ("dag_run", "asset_event")),
]


@pytest.mark.parametrize(("alias", "checked", "values"), CLOSED_SETS)
def test_each_literal_is_the_set_the_config_checks(alias: Any, checked: tuple[str, ...],
                                                   values: tuple[str, ...]) -> None:
    assert get_args(alias) == checked == values


def test_locator_kinds_are_the_keys_locator_option_reads() -> None:
    for kind in get_args(LocatorKind):
        assert locator_option({"k": {kind: "event"}}, "k", "w") is not None
    with pytest.raises(ConfigError, match="exactly one of header, body, value"):
        locator_option({"k": {"query": "x"}}, "k", "w")


def load(**route: Any) -> config.Config:
    return config.parse({"airflow": {"url": "http://127.0.0.1:1"},
                         "sources": {"github": {"type": "github", "secrets": ["s"]}},
                         "routes": [{"name": "r", "source": "github", **route}]}, {})


#: (route keys, the target the config builds, what Route.dag_id and Route.asset show)
TARGETS = [
    ({"dag_id": "deploy"}, DagTarget("deploy"), ("deploy", None)),
    ({"asset": "s3://bucket/key"}, AssetTarget("s3://bucket/key"), (None, "s3://bucket/key")),
]


@pytest.mark.parametrize(("keys", "target", "views"), TARGETS)
def test_route_and_trigger_hold_one_target(keys: dict[str, str], target: Any,
                                           views: tuple[str | None, str | None]) -> None:
    loaded = load(**keys)
    assert loaded.routes[0].target == target
    assert (loaded.routes[0].dag_id, loaded.routes[0].asset) == views
    delivery = Delivery(source="github", event="push", delivery_id="d-1", body={}, headers={})
    (trigger,) = route(loaded.routes, delivery)
    assert trigger.target == target and (trigger.dag_id, trigger.asset) == views
    # The queue's message names the same target, and deliver rebuilds the same trigger from it.
    envelope = Envelope.for_trigger(trigger, delivery, 1_700_000_000.0)
    message = envelope.to_message(b"k" * 32)
    assert Envelope.from_data(message.data).trigger() == trigger
    assert json.loads(message.data)["kind"] == ("dag_run" if isinstance(target, DagTarget) else "asset_event")


@pytest.mark.parametrize("keys", [{}, {"dag_id": "d", "asset": "a"}])
def test_a_route_names_a_dag_or_an_asset(keys: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="give either dag_id .a DAG run. or asset .an asset event."):
        load(**keys)


def test_trigger_takes_a_target_or_one_of_dag_id_and_asset() -> None:
    by_target = Trigger(route="r", target=DagTarget("d"), dag_run_id="x", conf={})
    assert Trigger(route="r", dag_id="d", dag_run_id="x", conf={}) == by_target
    assert Trigger(route="r", asset="a", dag_run_id="x", conf={}).target == AssetTarget("a")
    for wrong in ({}, {"dag_id": "d", "asset": "a"}, {"target": DagTarget("d"), "dag_id": "d"}):
        with pytest.raises(TypeError):
            Trigger(route="r", dag_run_id="x", conf={}, **wrong)
