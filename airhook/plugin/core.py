"""What the plugin shares across Airflow generations: the config (``airflow:`` optional), the
Receiver built from it (or the reason it could not be), and the client that creates runs in this
very Airflow instead of calling its REST API over HTTP.

Nothing here imports Airflow at module level: :class:`LocalAirflowClient` imports the Airflow
generation it runs in on first use.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import config as config_module
from .. import logs
from ..airflow.client import DEDUPE_WINDOW, EVENT_ID_KEY, Outcome
from ..airflow.paused import PausedCache, warn_if_paused
from ..config import AirflowConfig, Config
from ..errors import (
    AirflowError,
    AirflowRejected,
    AirflowUnavailable,
    AirhookError,
    AssetNotFound,
    ConfigError,
    DagNotFound,
)
from ..receiver import Receiver, error_response
from ..responses import Response
from ..routing import Trigger

#: Who the runs are attributed to (``triggering_user_name`` on 3.x; note author): there is no
#: Airflow user behind a webhook, its signature is the authentication.
USER = "airhook"
#: ``airflow:`` in the routes file may be omitted: the plugin triggers in the Airflow it runs in.
#: A placeholder satisfies the function's validation; the plugin never calls it.
_THIS_AIRFLOW = {"url": "http://this-airflow.invalid"}


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """:func:`airhook.config.load`, with ``airflow:`` optional (ignored if given: runs are created
    in this Airflow)."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    masked, found = config_module.mask_variables(text)
    try:
        document = config_module.unmask_variables(yaml.safe_load(masked), found)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if isinstance(document, dict):
        document = {**document, "airflow": _THIS_AIRFLOW}
    try:
        return config_module.parse(document, environ, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.detail}") from None


class NotConfigured(AirhookError):
    """The routes file is missing or invalid: every endpoint but health answers this until the
    web tier is restarted with a good one. Airflow itself keeps serving."""

    status = 503
    code = "config_error"
    public = "airhook is misconfigured; see the Airflow web server's log"


@dataclass(frozen=True)
class State:
    """The plugin's receiver, or why there is none."""

    receiver: Receiver | None
    error: str | None = None

    def handle(self, method: str, source: str, headers: Mapping[str, str],
               read_body: Callable[[int], bytes], query: str = "", url: str = "") -> Response:
        """The function's pipeline for ``/airhook/<source>``; a 503 while misconfigured."""
        if self.receiver is None:
            if source.strip("/") == "_health" and method in ("GET", "HEAD"):
                return Response(503, {"status": "misconfigured"})
            return error_response(NotConfigured(self.error or ""))
        return self.receiver.handle(method, source, headers, read_body, query=query, url=url)


_state: State | None = None
_state_lock = threading.Lock()


def state(major: int | None = None, *, log: Callable[..., None] = logs.emit) -> State:
    """The process's plugin state, built once from ``$AIRHOOK_CONFIG`` (``airhook.yaml`` in the
    working directory without it). A bad config is logged once, never raised: Airflow's web tier
    must keep serving its own UI and API."""
    global _state
    with _state_lock:
        if _state is None:
            _state = build_state(major, log=log)
        return _state


def build_state(major: int | None = None, *, path: str | os.PathLike[str] | None = None,
                log: Callable[..., None] = logs.emit) -> State:
    path = path if path is not None else config_module.default_path()
    try:
        config = load_config(path)
    except ConfigError as exc:
        log("CRITICAL", f"airhook plugin is not serving webhooks: {exc.detail}", error="config_error",
            component="plugin")
        return State(None, exc.detail)
    client = LocalAirflowClient(config.airflow, major=major, log=log)
    return State(Receiver(config, client))


def reset_state() -> None:
    """Forget the state (tests)."""
    global _state
    with _state_lock:
        _state = None


# ------------------------------------------------------------------------------------------ client


def airflow_major() -> int:
    from importlib.metadata import version
    return int(version("apache-airflow").split(".", 1)[0])


class LocalAirflowClient:
    """:class:`airhook.airflow.client.AirflowClient`'s ``trigger`` inside Airflow: the run is
    created by the code Airflow's own REST endpoint runs (``POST .../dags/{id}/dagRuns``), with
    the same run id, conf and note; a run id that exists is a duplicate, as the REST API's 409."""

    def __init__(self, config: AirflowConfig | None = None, *, major: int | None = None,
                 clock: Callable[[], float] = time.monotonic, log: Callable[..., None] = logs.emit) -> None:
        self.config = config
        self.major = major if major is not None else airflow_major()
        self._lock = threading.Lock()
        self._dag_bag: Any = None
        self._clock = clock
        self._log = log
        self._paused = PausedCache(clock)

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        from sqlalchemy.exc import IntegrityError, OperationalError
        try:
            if trigger.asset is not None:
                return self._asset_event(trigger)
            outcome = self._trigger3(trigger) if self.major >= 3 else self._trigger2(trigger)
        except IntegrityError:
            # Two deliveries of one event racing: the loser's insert hits the unique run id.
            outcome = Outcome("duplicate", 409)
        except OperationalError as exc:
            # The metadata database is down or overloaded: the sender retries later.
            raise AirflowUnavailable(f"Airflow's metadata database: {type(exc.orig).__name__}") from None
        return self._with_paused(trigger, outcome)

    # ---- paused DAGs: as AirflowClient._trigger_once and dag_paused, from DagModel.is_paused

    def _with_paused(self, trigger: Trigger, outcome: Outcome) -> Outcome:
        """The outcome with ``dag_paused``, and the function's WARNING when the DAG is paused:
        the run exists but will not start until someone unpauses the DAG."""
        assert trigger.dag_id is not None
        paused = self.dag_paused(trigger.dag_id)
        warn_if_paused(self._log, trigger.dag_id, trigger.dag_run_id, paused)
        return Outcome(outcome.status, outcome.airflow_status, paused)

    def dag_paused(self, dag_id: str) -> bool | None:
        """Is the DAG paused? ``DagModel.is_paused``, kept for PAUSED_TTL per DAG as the function
        keeps ``GET /dags/{id}``. Never raises: not knowing is no reason to fail a run that
        exists (None)."""
        def lookup() -> bool | None:
            try:
                return self._lookup_paused(dag_id)
            except Exception:  # the metadata database failing here: the run exists all the same
                return None
        return self._paused.get(dag_id, lookup)

    @property
    def paused_lookups(self) -> int:
        """How many times Airflow's records were asked whether a DAG is paused (tests)."""
        return self._paused.lookups

    def _lookup_paused(self, dag_id: str) -> bool | None:
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session
        from sqlalchemy import select
        with create_session() as session:
            value = session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id).limit(1))
        return value if isinstance(value, bool) else None

    # ---- Airflow 3: airflow.api_fastapi.core_api.routes.public.dag_run.trigger_dag_run

    def _trigger3(self, trigger: Trigger) -> Outcome:
        from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
        from airflow.api_fastapi.core_api.routes.public.dag_run import trigger_dag_run
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from fastapi import HTTPException
        from sqlalchemy import select
        from starlette.requests import Request

        body = TriggerDAGRunPostBody(dag_run_id=trigger.dag_run_id, logical_date=None,
                                     conf=dict(trigger.conf), note=trigger.note)
        with create_session() as session:
            if session.scalar(select(DagRun.id).where(DagRun.dag_id == trigger.dag_id,
                                                      DagRun.run_id == trigger.dag_run_id).limit(1)):
                return Outcome("duplicate", 409)
            try:
                trigger_dag_run(trigger.dag_id, body=body, dag_bag=self._db_dag_bag(), user=_User(),
                                session=session, request=Request({"type": "http", "headers": []}))
            except HTTPException as exc:
                raise _rejected(exc.status_code, str(exc.detail), trigger) from None
        return Outcome("queued", 200)

    def _db_dag_bag(self) -> Any:
        from airflow.models.dagbag import DBDagBag
        with self._lock:
            if self._dag_bag is None:
                self._dag_bag = DBDagBag()
            return self._dag_bag

    # ---- Airflow 2: airflow.api_connexion.endpoints.dag_run_endpoint.post_dag_run

    def _trigger2(self, trigger: Trigger) -> Outcome:
        """``post_dag_run``'s body, step for step: it reads the request and the logged-in user
        from Flask's globals, so it cannot be called for a webhook."""
        import pendulum
        from airflow.models.dag import DagModel
        from airflow.models.dagrun import DagRun
        from airflow.utils import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunType
        from sqlalchemy import select

        with create_session() as session:
            model = session.scalar(select(DagModel).where(DagModel.is_active, DagModel.dag_id == trigger.dag_id)
                                   .limit(1))
            if not model:
                raise _rejected(404, f"DAG with dag_id: '{trigger.dag_id}' not found", trigger)
            if model.has_import_errors:
                raise _rejected(400, f"DAG with dag_id: '{trigger.dag_id}' has import errors", trigger)
            if session.scalar(select(DagRun.id).where(DagRun.dag_id == trigger.dag_id,
                                                      DagRun.run_id == trigger.dag_run_id).limit(1)):
                return Outcome("duplicate", 409)
            dag_bag = self._dag_bag2()
            dag = dag_bag.get_dag(trigger.dag_id, session=session)
            if dag is None:
                raise _rejected(404, f"DAG with dag_id: '{trigger.dag_id}' not found", trigger)
            logical_date = pendulum.instance(timezone.utcnow())
            try:
                run = dag.create_dagrun(
                    run_type=DagRunType.MANUAL, run_id=trigger.dag_run_id, execution_date=logical_date,
                    data_interval=dag.timetable.infer_manual_data_interval(run_after=logical_date),
                    state=DagRunState.QUEUED, conf=dict(trigger.conf), external_trigger=True,
                    dag_hash=dag_bag.dags_hash.get(trigger.dag_id), session=session)
            except ValueError as exc:  # and ParamValidationError, a ValueError: bad params
                raise _rejected(400, str(exc), trigger) from None
            if trigger.note:
                run.note = (trigger.note, None)  # no Airflow user
        return Outcome("queued", 200)

    def _dag_bag2(self) -> Any:
        """The web server's own DagBag (``get_airflow_app().dag_bag``), as post_dag_run uses."""
        try:
            from airflow.www.extensions.init_dagbag import get_airflow_app
            return get_airflow_app().dag_bag
        except Exception:
            pass
        try:
            import flask
            return flask.current_app.dag_bag  # type: ignore[attr-defined]
        except Exception:
            with self._lock:
                if self._dag_bag is None:
                    from airflow.models.dagbag import DagBag
                    self._dag_bag = DagBag(os.devnull, include_examples=False, read_dags_from_db=True)
                return self._dag_bag

    # ---- asset (dataset) events: create_asset_event (3.x), create_dataset_event (2.x)

    def _asset_event(self, trigger: Trigger) -> Outcome:
        """Unless an event with this delivery's event id is among the asset's latest (Airflow does
        not dedupe asset events; the function does the same through the REST API)."""
        from airflow.utils.session import create_session
        from sqlalchemy import or_, select
        assert trigger.asset is not None
        extra = {**trigger.conf, EVENT_ID_KEY: trigger.dag_run_id}
        with create_session() as session:
            if self.major >= 3:
                from airflow.models.asset import AssetEvent, AssetModel
                model, event, key = AssetModel, AssetEvent, "asset_id"
                found = session.scalars(select(AssetModel).where(
                    or_(AssetModel.name == trigger.asset, AssetModel.uri == trigger.asset))).all()
                found.sort(key=lambda a: a.name != trigger.asset)  # by name first, as the function
            else:
                from airflow.models.dataset import DatasetEvent, DatasetModel
                model, event, key = DatasetModel, DatasetEvent, "dataset_id"
                found = session.scalars(select(DatasetModel).where(DatasetModel.uri == trigger.asset)).all()
            if not found:
                raise AssetNotFound(f"asset {trigger.asset!r} not found in Airflow (by name or URI)",
                                    airflow_status=404)
            asset = found[0]
            latest = session.scalars(select(event).where(getattr(event, key) == asset.id)
                                     .order_by(event.timestamp.desc()).limit(DEDUPE_WINDOW)).all()
            if any(isinstance(e.extra, dict) and e.extra.get(EVENT_ID_KEY) == trigger.dag_run_id
                   for e in latest):
                return Outcome("duplicate", 200)
            if self.major >= 3:
                from airflow.api_fastapi.core_api.datamodels.assets import CreateAssetEventsBody
                from airflow.api_fastapi.core_api.routes.public.assets import create_asset_event
                create_asset_event(CreateAssetEventsBody(asset_id=asset.id, extra=extra), session=session,
                                   user=_User())
            else:
                from airflow.datasets import Dataset
                from airflow.datasets.manager import dataset_manager
                from airflow.utils import timezone
                extra["from_rest_api"] = True  # as create_dataset_event marks its events
                if not dataset_manager.register_dataset_change(
                        dataset=Dataset(asset.uri), timestamp=timezone.utcnow(), extra=extra,
                        session=session):
                    raise AssetNotFound(f"asset {trigger.asset!r} not found in Airflow", airflow_status=404)
            del model
        return Outcome("queued", 200)


class _User:
    """The caller as Airflow 3's REST endpoints see it (``BaseUser``): only its id and name are
    read, for ``triggering_user_name`` and the note's author."""

    def get_id(self) -> str:
        return USER

    def get_name(self) -> str:
        return USER


def _rejected(status: int, detail: str, trigger: Trigger) -> AirflowError:
    """The error the function raises for the REST API's answer with this status."""
    what = f"DAG {trigger.dag_id!r}"
    if status == 404:
        return DagNotFound(f"{what}: not found in Airflow: {detail[:200]}", airflow_status=404)
    return AirflowRejected(f"Airflow refused {what}: {detail[:200]}", airflow_status=status)


__all__ = ["LocalAirflowClient", "NotConfigured", "State", "build_state", "load_config", "reset_state",
           "state"]
