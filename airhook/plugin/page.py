"""The plugin's page: sources, routes (with their DAG and whether it is paused) and recent airhook
deliveries with their runs and states, read from Airflow's own records (airhook's run ids and
notes carry the delivery), newest first, filterable by source and delivery id.

Behind Airflow's own login, with the permission to read DAG runs: Airflow 3's auth manager
(``requires_access_dag("GET", DagAccessEntity.RUN)``, the dependency of ``GET .../dagRuns``),
Airflow 2's ``has_access_dag("GET", DagAccessEntity.RUN)`` (FAB). Airflow does not authenticate
plugin apps itself, so every read here goes through one of those.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import runs
from ..config import Config, Route
from . import core

#: Prefix of every run id airhook makes by default: ``airhook__<source>__<route>__<delivery>``.
RUN_ID_PREFIX = "airhook__"
LIMIT = 50


@dataclass(frozen=True)
class Row:
    source: str
    route: str
    delivery_id: str
    dag_id: str
    run_id: str
    state: str
    created: str
    note: str


def _delivery_run(dag_id: str, run_id: str, state: str, created: str, note: str,
                  routes: Sequence[Route] = ()) -> Row | None:
    """The delivery a run came from, read as ``airhook runs`` reads it (airhook.runs): the routes
    file's (source, route) pairs settle names that contain ``__``."""
    found = runs.delivery_run(dag_id, run_id, state, created, note, routes=routes)
    return None if found is None else Row(found.source, found.route, found.delivery_id, dag_id, run_id,
                                          state, created, note)


def recent(config: Config, *, source: str | None = None, delivery: str | None = None,
           limit: int = LIMIT) -> list[Row]:
    """Runs of the routes' DAGs whose run ids are airhook's, newest first (Airflow's ORM)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_ids = sorted({r.dag_id for r in config.routes if r.dag_id is not None})
    if not dag_ids:
        return []
    order = DagRun.queued_at
    query = (select(DagRun).where(DagRun.dag_id.in_(dag_ids), DagRun.run_id.like("airhook\\_\\_%", escape="\\"))
             .order_by(order.desc().nulls_last()).limit(max(limit * 4, 200)))
    if delivery:
        query = query.where(DagRun.run_id.contains(delivery))
    rows: list[Row] = []
    with create_session() as session:
        for run in session.scalars(query):
            note = run.note or ""
            created = (run.queued_at or run.start_date)
            row = _delivery_run(run.dag_id, run.run_id, str(run.state or ""),
                                created.isoformat() if created else "", str(note), config.routes)
            if row is None or (source and row.source != source) or (delivery and row.delivery_id != delivery):
                continue
            rows.append(row)
            if len(rows) >= limit:
                break
    return rows


def paused(dag_ids: Sequence[str]) -> dict[str, bool | None]:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    with create_session() as session:
        found = {d: p for d, p in session.execute(
            select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(list(dag_ids))))}
    return {d: found.get(d) for d in dag_ids}


# ------------------------------------------------------------------------------------------ render

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;
margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;font-size:.9rem}
th{background:#f3f3f3}.error{color:#a00;font-weight:bold}code{font-size:.85rem}"""


def render(state: core.State, source: str | None, delivery: str | None, base: str) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>airhook</title>"
             f"<style>{_STYLE}</style></head><body><h1>airhook</h1>"]
    if state.receiver is None:
        parts.append(f"<p class='error' id='config-error'>Not serving webhooks: the routes file is invalid: "
                     f"{e(state.error or '')}</p></body></html>")
        return "".join(parts)
    config = state.receiver.config
    parts.append("<h2>Sources</h2><table><tr><th>source</th><th>type</th><th>endpoint</th></tr>")
    for name, spec in config.sources.items():
        parts.append(f"<tr><td>{e(name)}</td><td>{e(spec.type)}</td>"
                     f"<td><code>POST {e(base)}/airhook/{e(name)}</code></td></tr>")
    parts.append("</table><h2>Routes</h2><table><tr><th>route</th><th>source</th><th>events</th>"
                 "<th>target</th><th>paused</th></tr>")
    states = paused([r.dag_id for r in config.routes if r.dag_id])
    for route in config.routes:
        target = f"DAG {route.dag_id}" if route.dag_id else f"asset {route.asset}"
        flag = states.get(route.dag_id) if route.dag_id else None
        shown = "-" if flag is None and not route.dag_id else ("missing" if flag is None else ("yes" if flag else "no"))
        events = ", ".join(sorted(route.events)) if route.events else "any"
        parts.append(f"<tr><td>{e(route.name)}</td><td>{e(route.source)}</td><td>{e(events)}</td>"
                     f"<td>{e(target)}</td><td>{shown}</td></tr>")
    parts.append("</table><h2>Recent deliveries</h2><form method='get'>"
                 f"source <input name='source' value='{e(source or '')}'> "
                 f"delivery id <input name='delivery' value='{e(delivery or '')}'> "
                 "<button type='submit'>filter</button></form>"
                 "<table id='deliveries'><tr><th>created</th><th>source</th><th>route</th><th>delivery</th>"
                 "<th>DAG</th><th>run</th><th>state</th><th>note</th></tr>")
    for row in recent(config, source=source or None, delivery=delivery or None):
        parts.append(f"<tr><td>{e(row.created)}</td><td>{e(row.source)}</td><td>{e(row.route)}</td>"
                     f"<td>{e(row.delivery_id)}</td><td>{e(row.dag_id)}</td><td><code>{e(row.run_id)}</code>"
                     f"</td><td>{e(row.state)}</td><td>{e(row.note)}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------ Airflow 2


def appbuilder_view() -> dict[str, Any]:
    """Airflow 2: the page as a Flask-AppBuilder view under Browse, behind FAB's login and the
    permission to read DAG runs."""
    import flask
    from airflow.auth.managers.models.resource_details import DagAccessEntity
    from airflow.www.auth import has_access_dag
    from flask_appbuilder import BaseView, expose

    guard: Callable[[Any], Any] = has_access_dag("GET", DagAccessEntity.RUN)

    class AirhookView(BaseView):
        route_base = "/airhook-ui"
        default_view = "index"

        @expose("/")
        @guard
        def index(self) -> Any:
            args = flask.request.args
            body = render(core.state(2), args.get("source", ""), args.get("delivery", ""),
                          flask.request.host_url.rstrip("/"))
            return flask.Response(body, mimetype="text/html", headers={"Cache-Control": "no-store"})

    return {"name": "airhook", "category": "Browse", "view": AirhookView()}


__all__ = ["Row", "appbuilder_view", "recent", "render"]
