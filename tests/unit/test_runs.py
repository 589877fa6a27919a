"""Reading deliveries back from DAG runs (airhook.runs): what routing writes into a run's id and
note is read back as the same source, route and delivery; foreign runs are ignored; listings are
newest first and filtered by source and delivery."""

from __future__ import annotations

from typing import Any

import pytest

from airhook import config
from airhook.delivery import Delivery
from airhook.routing import build_trigger, default_run_id
from airhook.runs import DeliveryRun, delivery_run, from_api, same_delivery, select

HASHED = "h" + "0" * 40  # the shape of a hashed delivery id


def load(routes: list[dict[str, Any]], sources: tuple[str, ...] = ("github", "stripe")) -> config.Config:
    return config.parse({
        "airflow": {"url": "http://127.0.0.1:1"},
        "sources": {name: {"type": "github", "secrets": ["s"]} for name in sources},
        "routes": routes,
    }, {})


def written(cfg: config.Config, route_name: str, delivery_id: str, event: str = "push") -> tuple[str, str | None]:
    """The run id and note routing gives this delivery on this route."""
    route = next(r for r in cfg.routes if r.name == route_name)
    delivery = Delivery(source=route.source, event=event, delivery_id=delivery_id, body={"id": "x-1"}, headers={})
    trigger = build_trigger(route, delivery, delivery.document())
    return trigger.dag_run_id, trigger.note


ROUTES = load([{"name": "deploy-main", "source": "github", "dag_id": "deploy"},
               {"name": "deploy__eu", "source": "github", "dag_id": "deploy"},
               {"name": "billing", "source": "stripe", "dag_id": "billing"}])


# ------------------------------------------------------------- round trip: routing, then back


@pytest.mark.parametrize("route,delivery_id,event", [
    ("deploy-main", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "push"),       # GitHub's X-GitHub-Delivery
    ("billing", "evt_1NG8Du2eZvKYlo2CUI79vXWy", "invoice.paid"),          # Stripe's event id
    ("deploy-main", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W/a b", "push"),         # outside Airflow's characters: hashed
    ("deploy-main", "x" * 300, "push"),                                    # too long for a run id: hashed
    ("deploy-main", "id delivery with delivery inside", "push"),           # the note's separator in the id
    ("deploy-main", "d-1", "issue delivery failed"),                       # ... and in the event
    ("deploy-main", "d-2", ""),                                            # an empty event
    ("deploy__eu", "d__3", "push"),                                        # "__" in the route and the id
    ("deploy-main", "sha256:abc~1+2.3", "push"),                           # every allowed punctuation
])
def test_what_routing_writes_reads_back_as_the_same_delivery(route: str, delivery_id: str, event: str) -> None:
    run_id, note = written(ROUTES, route, delivery_id, event)
    source = next(r.source for r in ROUTES.routes if r.name == route)
    dag_id = next(r.dag_id for r in ROUTES.routes if r.name == route)
    assert dag_id is not None
    for routes in ((), ROUTES.routes):  # without and with the routes file
        row = delivery_run(dag_id, run_id, "success", "2026-11-30T17:00:00Z", note, routes=routes)
        assert row == DeliveryRun(source=source, route=route, delivery_id=delivery_id, dag_id=dag_id,
                                  run_id=run_id, state="success", created="2026-11-30T17:00:00Z", note=note)


# ------------------------------------------------------------- the run id or the note alone

CUSTOM = load([{"name": "deploy-main", "source": "github", "dag_id": "deploy"},
               {"name": "by-sha", "source": "github", "dag_id": "deploy", "run_id": "join('-', ['sha', body.id])"},
               {"name": "quiet", "source": "github", "dag_id": "quiet", "note": "'deployed'"},
               {"name": "my__route", "source": "my__src", "dag_id": "d"}],
              sources=("github", "my__src"))


@pytest.mark.parametrize("dag_id,run_id,note,routes,expected", [
    # the default run id without a note (a route's note: null, a run made before notes)
    ("deploy", "airhook__github__deploy-main__d-1", None, (), ("github", "deploy-main", "d-1")),
    # a custom note: the run id still tells
    ("quiet", "airhook__github__quiet__d-1", "deployed", (), ("github", "quiet", "d-1")),
    # hashed without the note: the run id's form of the id is all there is
    ("deploy", f"airhook__github__deploy-main__{HASHED}", None, (), ("github", "deploy-main", HASHED)),
    # a route's own run_id with the default note: the routes file names the route...
    ("deploy", "sha-x-1", "airhook: github push delivery d-4", CUSTOM.routes, ("github", "by-sha", "d-4")),
    # ... and without it, the route is not known
    ("deploy", "sha-x-1", "airhook: github push delivery d-4", (), ("github", "", "d-4")),
    # "__" inside both names: the routes file splits the run id
    ("d", "airhook__my__src__my__route__d-5", None, CUSTOM.routes, ("my__src", "my__route", "d-5")),
    # ... and so does the note when it is there
    ("d", "airhook__my__src__my__route__d-5", "airhook: my__src push delivery d-5", (),
     ("my__src", "my__route", "d-5")),
])
def test_run_id_or_note_alone(dag_id: str, run_id: str, note: str | None, routes: tuple[Any, ...],
                              expected: tuple[str, str, str]) -> None:
    row = delivery_run(dag_id, run_id, "queued", None, note, routes=routes)
    assert row is not None
    assert (row.source, row.route, row.delivery_id) == expected


@pytest.mark.parametrize("run_id,note", [
    ("manual__2026-11-30T17:00:00+00:00", None),                        # the UI's trigger button
    ("scheduled__2026-11-30T00:00:00+00:00", None),                     # the scheduler
    ("asset_triggered__2026-11-30T00:00:00+00:00", "deployed by hand"),
    ("airhook__github__deploy-main", None),                             # no delivery part
    ("airhook__github__deploy-main__", None),
    ("airhook_github__deploy-main__d-1", None),                         # not the prefix
    ("airhook__bad source__r__d", None),                                # not a source name
    ("manual__x", "airhook:github push delivery d"),                    # not the note's form
    ("manual__x", "airhook: github push delivery "),                    # no delivery id
    ("manual__x", "airhook: github push"),
    ("manual__x", ""),
])
def test_foreign_runs_are_not_airhooks(run_id: str, note: str | None) -> None:
    assert delivery_run("deploy", run_id, "success", None, note) is None
    assert delivery_run("deploy", run_id, "success", None, note, routes=ROUTES.routes) is None


# ------------------------------------------------------------- the REST API's items


@pytest.mark.parametrize("item,created", [
    # Airflow 3 (v2): logical_date is null for airhook's runs, run_after is always set
    ({"dag_run_id": "airhook__github__deploy-main__d-1", "state": "success", "logical_date": None,
      "run_after": "2026-11-30T17:01:02.123456Z", "start_date": "2026-11-30T17:01:03Z", "note": None},
     "2026-11-30T17:01:02.123456Z"),
    # Airflow 2 (v1): logical_date is the trigger time
    ({"dag_run_id": "airhook__github__deploy-main__d-1", "state": "queued",
      "logical_date": "2026-11-30T17:01:02.123456+00:00", "start_date": None, "note": None},
     "2026-11-30T17:01:02.123456+00:00"),
    ({"dag_run_id": "airhook__github__deploy-main__d-1", "state": None}, None),
])
def test_api_items(item: dict[str, Any], created: str | None) -> None:
    row = from_api("deploy", item)
    assert row is not None and (row.created, row.state, row.delivery_id) == (created, item["state"], "d-1")


def test_api_items_without_a_run_id_are_skipped() -> None:
    assert from_api("deploy", {"state": "success"}) is None
    assert from_api("deploy", {"dag_run_id": 7}) is None


# ------------------------------------------------------------- select: newest first, filtered


def run(delivery: str, created: str | None, source: str = "github", route: str = "deploy-main") -> DeliveryRun:
    return DeliveryRun(source=source, route=route, delivery_id=delivery, dag_id="deploy",
                       run_id=default_run_id(source, route, delivery), state="success", created=created, note=None)


ROWS = [
    run("a", "2026-11-30T10:00:00Z"),
    run("b", "2026-11-30T12:00:00+00:00"),          # v1's offset form sorts with v2's "Z"
    run("c", None),                                 # undated: last
    run("d", "2026-11-30T13:30:00+02:00", source="stripe", route="billing"),  # 11:30 UTC
    run("e", "2026-11-30T11:00:00"),                # naive: taken as UTC
    run("f", "not a date"),
]


@pytest.mark.parametrize("kwargs,expected", [
    ({}, ["b", "d", "e", "a", "c", "f"]),
    ({"limit": 2}, ["b", "d"]),
    ({"limit": 0}, []),
    ({"source": "stripe"}, ["d"]),
    ({"source": "gitlab"}, []),
    ({"delivery": "e"}, ["e"]),
    ({"delivery": "e", "source": "stripe"}, []),
    ({"delivery": "nope"}, []),
])
def test_select(kwargs: dict[str, Any], expected: list[str]) -> None:
    assert [r.delivery_id for r in select(ROWS, **kwargs)] == expected


def test_select_finds_a_hashed_delivery_by_the_id_as_received() -> None:
    original = "msg/with spaces"
    run_id = default_run_id("github", "deploy-main", original)
    row = delivery_run("deploy", run_id, "failed", None, None)
    assert row is not None and row.delivery_id != original and row.delivery_id.startswith("h")
    assert same_delivery(row, original)
    assert select([row], delivery=original) == [row]
    assert select([row], delivery="msg/with other spaces") == []
