"""Which DAG runs came from which airhook delivery, and how they ended: read back from Airflow's
own records, for ``airhook runs`` and the Airflow plugin's page.

A run carries its delivery in two places that airhook writes when it triggers
(:func:`airhook.routing.build_trigger`): its run id, by default
``airhook__<source>__<route>__<delivery id>`` (the delivery id hashed to ``h<sha256 prefix>``
when Airflow's run-id characters or length do not allow it as is), and its note, by default
``airhook: <source> <event> delivery <delivery id>`` (the delivery id as received). A route may
override either; a run that carries neither default is not recognisable as airhook's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .config import ROUTE_NAME_PATTERN, SOURCE_NAME_PATTERN, Route
from .routing import default_run_id

if TYPE_CHECKING:  # the plugin reads runs from Airflow's database and needs no HTTP client
    from .airflow.client import AirflowClient

RUN_ID_PREFIX = "airhook__"
NOTE_PREFIX = "airhook: "
_NOTE_DELIVERY = " delivery "
#: Runs asked for per request: Airflow's default ``maximum_page_limit`` (2.x and 3.x).
PAGE = 100
#: How many of each DAG's newest runs are read at most when looking for airhook's among them.
DEFAULT_SCAN = 1000
#: Sorts a run without a usable date after every dated one.
_UNDATED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DeliveryRun:
    """One DAG run and the airhook delivery it came from."""

    source: str
    #: The route's name; empty when neither the run id nor the routes file tells (a route with
    #: its own ``run_id`` sharing a DAG and a source with another).
    route: str
    #: The delivery id as received when the note carries it; else the run id's form of it (which
    #: is ``h<sha256 prefix>`` for an id Airflow's run ids cannot hold).
    delivery_id: str
    dag_id: str
    run_id: str
    state: str | None
    created: str | None  # ISO 8601 (logical date / run_after / start), for sorting newest first
    note: str | None


@dataclass(frozen=True)
class DagStatus:
    """A DAG the routes file triggers, as Airflow reports it."""

    dag_id: str
    routes: tuple[str, ...]
    exists: bool
    paused: bool | None  # None when the DAG does not exist


@dataclass(frozen=True)
class Listing:
    """What :func:`list_runs` found: the DAGs asked about, and the matching runs newest first."""

    api: str
    dags: tuple[DagStatus, ...]
    runs: tuple[DeliveryRun, ...]
    #: Runs read from Airflow (per DAG at most ``scan``) to find these.
    scanned: int


# ---------------------------------------------------------------------------- recognising a run


def _run_id_parts(dag_id: str, run_id: str, routes: Sequence[Route]) -> tuple[str, str, str] | None:
    """``(source, route, delivery part)`` of a default run id. Names may contain ``__``, so the
    routes file's own (source, route) pairs for this DAG are tried first, longest first; without
    one, the id is split at its first two ``__``."""
    if not run_id.startswith(RUN_ID_PREFIX):
        return None
    rest = run_id[len(RUN_ID_PREFIX):]
    known = sorted({(r.source, r.name) for r in routes if r.dag_id == dag_id},
                   key=lambda pair: -len(pair[0]) - len(pair[1]))
    for source, route in known:
        head = f"{source}__{route}__"
        if rest.startswith(head) and len(rest) > len(head):
            return source, route, rest[len(head):]
    parts = rest.split("__", 2)
    if (len(parts) == 3 and parts[2] and SOURCE_NAME_PATTERN.match(parts[0])
            and ROUTE_NAME_PATTERN.match(parts[1])):
        return parts[0], parts[1], parts[2]
    return None


def _note_parts(note: str | None) -> list[tuple[str, str, str]]:
    """Every ``(source, event, delivery id)`` reading of a default note. An event or a delivery
    id may itself contain `` delivery ``, so each split is a candidate; the run id decides."""
    if not note or not note.startswith(NOTE_PREFIX):
        return []
    source, space, tail = note[len(NOTE_PREFIX):].partition(" ")
    if not space or not SOURCE_NAME_PATTERN.match(source):
        return []
    found = []
    index = tail.find(_NOTE_DELIVERY)  # 0 for an empty event: "airhook: src  delivery id"
    while index >= 0:
        delivery = tail[index + len(_NOTE_DELIVERY):]
        if delivery:
            found.append((source, tail[:index], delivery))
        index = tail.find(_NOTE_DELIVERY, index + 1)
    return found


def delivery_run(dag_id: str, run_id: str, state: str | None, created: str | None, note: str | None,
                 *, routes: Iterable[Route] = ()) -> DeliveryRun | None:
    """The airhook delivery a DAG run carries, or None when the run is not airhook's.

    Args:
        routes: the routes file's routes, when at hand: they name the route of a run whose run id
            a route overrides, and split run ids whose names contain ``__``.
    """
    routes = tuple(routes)
    readings = _note_parts(note)

    def row(source: str, route: str, delivery: str) -> DeliveryRun:
        return DeliveryRun(source=source, route=route, delivery_id=delivery, dag_id=dag_id,
                           run_id=run_id, state=state, created=created, note=note)

    if run_id.startswith(RUN_ID_PREFIX):
        # The note's delivery id is the one as received: when the run id is exactly what the
        # note's source and delivery give for some route (hashed or not), that reading is the
        # delivery, and it also splits names that contain "__".
        for source, _event, delivery in readings:
            head = f"{RUN_ID_PREFIX}{source}__"
            if not run_id.startswith(head):
                continue
            rest = run_id[len(head):]
            index = rest.find("__", 1)
            while index > 0:
                if default_run_id(source, rest[:index], delivery) == run_id:
                    return row(source, rest[:index], delivery)
                index = rest.find("__", index + 1)
    parsed = _run_id_parts(dag_id, run_id, routes)
    if parsed is not None:
        return row(*parsed)
    if not readings:
        return None
    # A route's own run_id, with the default note: source and delivery from the note, the
    # route from the routes file when only one route of this DAG and source overrides run_id.
    source, _event, delivery = readings[0]
    candidates = [r.name for r in routes if r.dag_id == dag_id and r.source == source]
    if len(candidates) > 1:
        candidates = [r.name for r in routes
                      if r.dag_id == dag_id and r.source == source and r.run_id is not None]
    return row(source, candidates[0] if len(candidates) == 1 else "", delivery)


def _when(created: str | None) -> datetime:
    if not created:
        return _UNDATED
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return _UNDATED
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def same_delivery(row: DeliveryRun, delivery: str) -> bool:
    """Whether ``row`` came from the delivery with id ``delivery`` (as received), also when the
    run id holds only its hash."""
    if row.delivery_id == delivery:
        return True
    head = f"{RUN_ID_PREFIX}{row.source}__{row.route}__"
    return bool(row.route) and default_run_id(row.source, row.route, delivery)[len(head):] == row.delivery_id


def select(rows: Iterable[DeliveryRun], *, source: str | None = None, delivery: str | None = None,
           limit: int = 50) -> list[DeliveryRun]:
    """Newest first, filtered."""
    kept = [r for r in rows
            if (source is None or r.source == source) and (delivery is None or same_delivery(r, delivery))]
    kept.sort(key=lambda r: _when(r.created), reverse=True)  # stable: ties keep Airflow's order
    return kept[:max(limit, 0)]


# ---------------------------------------------------------------------------- Airflow's REST API

#: A run's creation as the API reports it: Airflow 3 (v2) always sets ``run_after`` and leaves
#: ``logical_date`` null for airhook's runs; Airflow 2 (v1) sets ``logical_date`` to the trigger
#: time. The others are fallbacks for runs that have neither.
_CREATED_FIELDS = ("run_after", "logical_date", "execution_date", "queued_at", "start_date")


def from_api(dag_id: str, item: Mapping[str, Any], routes: Iterable[Route] = ()) -> DeliveryRun | None:
    """:func:`delivery_run` for one item of ``GET /dags/{dag_id}/dagRuns`` (v1 or v2)."""
    run_id = item.get("dag_run_id")
    if not isinstance(run_id, str):
        return None
    created = next((str(item[k]) for k in _CREATED_FIELDS if item.get(k)), None)
    note = item.get("note")
    state = item.get("state")
    return delivery_run(dag_id, run_id, None if state is None else str(state), created,
                        note if isinstance(note, str) else None, routes=routes)


def _dag_runs(client: AirflowClient, dag_id: str, routes: Sequence[Route], *, source: str | None,
              delivery: str | None, want: int, scan: int, timeout: float) -> tuple[list[DeliveryRun], int]:
    """The DAG's newest runs, a page at a time (``order_by=-id``: newest created first, in both
    API generations), until ``want`` of airhook's match or ``scan`` runs were read."""
    found: list[DeliveryRun] = []
    offset = 0
    path = f"/dags/{quote(dag_id, safe='')}/dagRuns"
    while offset < scan and len(found) < want:
        size = min(PAGE, scan - offset)
        reply = client.get(f"{path}?order_by=-id&limit={size}&offset={offset}", f"runs of DAG {dag_id!r}",
                           timeout)
        body = reply.json() or {}
        page = body.get("dag_runs") or []
        offset += len(page)
        for item in page:
            row = from_api(dag_id, item, routes) if isinstance(item, dict) else None
            if row is not None and select([row], source=source, delivery=delivery):
                found.append(row)
        if len(page) < size or offset >= int(body.get("total_entries") or 0):
            break
    return found, offset


def _exact(client: AirflowClient, dag_id: str, route: Route, delivery: str, routes: Sequence[Route],
           timeout: float) -> DeliveryRun | None:
    """The run a route with the default run id made for ``delivery``, looked up by its id: found
    however old it is."""
    run_id = default_run_id(route.source, route.name, delivery)
    reply = client.get(f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
                       f"run {run_id!r} of DAG {dag_id!r}", timeout, missing_ok=True)
    if reply.status == 404:
        return None
    item = reply.json()
    return from_api(dag_id, item, routes) if isinstance(item, dict) else None


def list_runs(client: AirflowClient, routes: Sequence[Route], *, source: str | None = None,
              delivery: str | None = None, limit: int = 50, scan: int = DEFAULT_SCAN,
              timeout: float | None = None) -> Listing:
    """airhook's runs of the routes' DAGs, newest first, and whether each DAG exists and is
    paused, over Airflow's REST API (v1 or v2, as ``client`` settled on).

    With ``delivery``, each route that keeps the default run id is asked for its run of that
    delivery by id (however old); routes with their own ``run_id`` are found among each DAG's
    newest ``scan`` runs, as are all runs without ``delivery``.

    Args:
        client: the configured Airflow's client (only its public ``api`` and ``get`` are used).
        routes: the routes file's routes; asset routes have no runs and are skipped.
        source: only this source's routes and runs.

    Raises:
        AirflowError: Airflow could not be asked (unreachable, credentials refused, ...).
    """
    timeout = timeout or client.config.timeout
    api = client.api(timeout)
    mine = [r for r in routes if r.dag_id is not None and (source is None or r.source == source)]
    dags: list[DagStatus] = []
    runs: dict[tuple[str, str], DeliveryRun] = {}
    scanned = 0
    for dag_id in dict.fromkeys(r.dag_id for r in mine if r.dag_id is not None):
        of_dag = [r for r in mine if r.dag_id == dag_id]
        reply = client.get(f"/dags/{quote(dag_id, safe='')}", f"DAG {dag_id!r}", timeout, missing_ok=True)
        exists = reply.status != 404
        paused = bool((reply.json() or {}).get("is_paused")) if exists else None
        dags.append(DagStatus(dag_id, tuple(r.name for r in of_dag), exists, paused))
        if not exists:
            continue
        if delivery is not None:
            for route in of_dag:
                if route.run_id is None:
                    row = _exact(client, dag_id, route, delivery, routes, timeout)
                    if row is not None:
                        runs[(dag_id, row.run_id)] = row
            if all(r.run_id is None for r in of_dag):
                continue
        found, read = _dag_runs(client, dag_id, routes, source=source, delivery=delivery,
                                want=limit, scan=scan, timeout=timeout)
        scanned += read
        for row in found:
            runs.setdefault((dag_id, row.run_id), row)
    rows = select(runs.values(), source=source, delivery=delivery, limit=limit)
    return Listing(api=api, dags=tuple(dags), runs=tuple(rows), scanned=scanned)


__all__ = ["DagStatus", "DeliveryRun", "Listing", "delivery_run", "from_api", "list_runs",
           "same_delivery", "select"]
