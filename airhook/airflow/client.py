"""Trigger DAG runs through Airflow's REST API: v1 (Airflow 2) or v2 (Airflow 3), over HTTP or
through another transport (MWAA's InvokeRestApi), retried within the sender's deadline.

The transports live in :mod:`.transport` (HTTP), :mod:`.composer` and :mod:`.mwaa`, the meaning of
Airflow's answers in :mod:`.replies`; their names used by callers are re-exported here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from .. import logs
from ..backoff import retry_until
from ..config import AirflowConfig
from ..errors import AirflowError, AirflowRejected, AirflowServerError, AirflowUnavailable, AssetNotFound, RunRefused
from ..httpconn import Http, Reply
from ..routing import Trigger, TriggerStatus, unstorable
from .auth import Auth, build_auth
from .paused import PausedCache, warn_if_paused
from .replies import classify, reason, redact
from .transport import HttpTransport, Probe, Transport, make_pool, parse_version

#: Asset events carry their deterministic id in ``extra`` under this key: Airflow does not dedupe
#: asset events, so airhook looks for it among the asset's latest events before posting.
EVENT_ID_KEY = "airhook_event_id"
#: How many of an asset's latest events are searched for a redelivered event id.
DEDUPE_WINDOW = 100
#: The paused check runs after the run exists, on the sender's time: it may not hold the answer
#: back for long (a slow answer is "not known" for PAUSED_TTL).
PAUSED_TIMEOUT = 2.0
#: Trigger-body fields that not every Airflow takes: the first version of each API generation that
#: accepts it. ``note`` is in the v1 spec since 2.5.0, but 2.5.0 and 2.5.1 answer 400 "Unknown
#: field" to a POST with it (issue 11); Airflow 3's v2 has it from 3.0.0.
FIELD_SINCE: dict[str, dict[str, tuple[int, ...]]] = {
    "note": {"v1": (2, 5, 2), "v2": (3, 0, 0)},
}

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What Airflow said about one trigger: ``queued`` (created) or ``duplicate`` (409: a run with
    that id exists, i.e. this delivery was already triggered). ``dag_paused``: the DAG is paused,
    so the run waits until someone unpauses it (None: not known, or an asset event)."""

    status: TriggerStatus
    airflow_status: int
    dag_paused: bool | None = None


class Triggerer(Protocol):
    """What ``receive`` and ``deliver`` need of Airflow: :class:`AirflowClient` over the REST API,
    or the plugin's ``LocalAirflowClient`` inside Airflow (airhook/plugin/core.py)."""

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome: ...


def accepts(field: str, api: str, version: tuple[int, ...] | None) -> bool:
    """Does this Airflow take ``field`` in a trigger body? An unknown version is taken to be
    current: the field is sent."""
    since = FIELD_SINCE.get(field, {}).get(api)
    return since is None or version is None or version >= since


def request_body(trigger: Trigger, api: str, version: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The JSON body of ``POST .../dags/{dag_id}/dagRuns`` that this Airflow takes. Airflow 3
    requires the ``logical_date`` key (null: "now", and no uniqueness on dates) and refuses
    unknown keys; Airflow 2 refuses ``logical_date: null`` and, before 2.5.2, ``note``
    (FIELD_SINCE). Neither is sent ``execution_date``/``data_interval_*``/``run_after``: Airflow
    fills them in as for a manual run."""
    body: dict[str, Any] = {"dag_run_id": trigger.dag_run_id, "conf": trigger.conf}
    if api == "v2":
        body["logical_date"] = None
    if trigger.note is not None and accepts("note", api, version):
        body["note"] = trigger.note
    return body


def trigger_request(trigger: Trigger, api: str, version: tuple[int, ...] | None = None,
                    asset_id: int | str | None = None) -> tuple[str, str, dict[str, Any]]:
    """The request that makes ``trigger`` happen: ``(method, path, body)``, the path without the
    ``/api/{api}`` prefix. A DAG run is ``POST /dags/{dag_id}/dagRuns`` (:func:`request_body`);
    an asset event is Airflow 3's ``POST /assets/events`` (by ``asset_id``, looked up by name or
    URI) or Airflow 2's ``POST /datasets/events`` (by URI), its ``extra`` carrying the event id
    that makes a redelivery recognisable."""
    if trigger.asset is None:
        assert trigger.dag_id is not None
        return "POST", f"/dags/{quote(trigger.dag_id, safe='')}/dagRuns", request_body(trigger, api, version)
    extra = {**trigger.conf, EVENT_ID_KEY: trigger.dag_run_id}
    if api == "v2":
        return "POST", "/assets/events", {"asset_id": asset_id, "extra": extra}
    return "POST", "/datasets/events", {"dataset_uri": trigger.asset, "extra": extra}


class AirflowClient:
    """One per instance: the transport (keep-alive pool and credentials, or MWAA), the API version
    (asked once with ``api: auto``), and the retry policy."""

    def __init__(self, config: AirflowConfig, *, transport: Transport | None = None,
                 pool: Http | None = None, auth: Auth | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 log: Callable[..., None] = logs.emit) -> None:
        self.config = config
        if transport is None:
            transport = build_transport(config, pool, auth)
        self.transport = transport
        # An explicit v2 needs no probe: every Airflow 3 takes the same trigger body.
        self._probe: Probe | None = Probe("v2") if config.api == "v2" else None
        self._api_lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._log = log
        self._asset_ids: dict[str, int] = {}
        self._paused = PausedCache(clock)

    # ------------------------------------------------------------------------------------ version

    def probe(self, timeout: float | None = None) -> Probe:
        """The API generation and server version, asked once per instance (``GET .../version``
        with the configured credentials; MWAA: ``GetEnvironment``). Only a success is kept."""
        if self._probe is None:
            with self._api_lock:
                if self._probe is None:
                    self._probe = self._ask(timeout or self.config.timeout)
        return self._probe

    def _ask(self, timeout: float) -> Probe:
        if self.config.api == "auto":
            return self.transport.detect_api(timeout)
        try:
            return self.transport.detect_api(timeout, self.config.api)
        except (AirflowUnavailable, AirflowServerError):
            raise
        except AirflowError:
            # The API is configured; only the version is unknown (e.g. /version is refused to
            # this role): send the generation's current body rather than fail every delivery.
            return Probe(self.config.api)

    def api(self, timeout: float | None = None) -> str:
        """``v1`` or ``v2``; with ``api: auto`` the server is asked once per instance."""
        return self.probe(timeout).api

    def version(self, timeout: float | None = None) -> tuple[int, ...] | None:
        """The server's Airflow version, when known."""
        return self.probe(timeout).version

    # ------------------------------------------------------------------------------------ trigger

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        """Create the run, or recognise it as a duplicate.

        Args:
            deadline: a ``time.monotonic()`` instant; connection failures, timeouts, 5xx and 429
                are retried with jittered backoff until then. None: one attempt.

        Raises:
            AirflowUnavailable / AirflowServerError: no answer, or 5xx/429, until the deadline (503).
            AirflowAuthError: 401/403 even after one credential refresh.
            DagNotFound: Airflow does not know the DAG (a configuration error).
            AirflowRejected: another 4xx.
        """
        once = self._asset_event_once if trigger.asset is not None else self._trigger_once
        return self.retrying(lambda timeout: once(trigger, timeout), deadline)

    def _trigger_once(self, trigger: Trigger, timeout: float) -> Outcome:
        assert trigger.dag_id is not None
        _refuse_unstorable(trigger)
        probe = self.probe(timeout)
        method, path, body = trigger_request(trigger, probe.api, probe.version)
        reply = self.transport.request(method, path, body, timeout, probe.api)
        if reply.status in (200, 201, 409):
            status: TriggerStatus = "queued" if reply.status != 409 else "duplicate"
            paused = self.dag_paused(trigger.dag_id, min(timeout, PAUSED_TIMEOUT))
            warn_if_paused(self._log, trigger.dag_id, trigger.dag_run_id, paused)
            return Outcome(status, reply.status, paused)
        if reply.status == 405 or (reply.status == 404 and not _about_dag(reply)):
            # The path itself does not exist (Airflow 3 answers 405 to POST /api/v1/...: its UI
            # route): the API generation is wrong, a guess or the config, which must never read
            # as a missing DAG. Ask again next time.
            if self.config.api == "auto":
                with self._api_lock:
                    self._probe = None
            raise AirflowRejected(f"POST /api/{probe.api}/dags/{{dag_id}}/dagRuns answered {reply.status} "
                                  f"without Airflow's DAG-not-found answer: REST API {probe.api} is not at "
                                  "airflow.url (check airflow.url and airflow.api)",
                                  public="Airflow's REST API was not found at the configured URL")
        raise classify(reply, f"DAG {trigger.dag_id!r}", self.config.auth.type)

    def dag_paused(self, dag_id: str, timeout: float) -> bool | None:
        """Is the DAG paused? ``GET /dags/{id}``, kept for PAUSED_TTL per DAG. Never raises: not
        knowing is no reason to fail a run that Airflow has already created (None)."""
        def lookup() -> bool | None:
            try:
                reply = self.get(f"/dags/{quote(dag_id, safe='')}", f"DAG {dag_id!r}", timeout)
            except AirflowError:
                return None
            data = reply.json()
            value = data.get("is_paused") if isinstance(data, dict) else None
            return value if isinstance(value, bool) else None
        return self._paused.get(dag_id, lookup)

    @property
    def paused_lookups(self) -> int:
        """How many times Airflow was asked whether a DAG is paused (tests and benchmarks)."""
        return self._paused.lookups

    # ------------------------------------------------------------------------------------ assets

    def _asset_event_once(self, trigger: Trigger, timeout: float) -> Outcome:
        """Post an asset event (Airflow 3) or dataset event (Airflow 2.9+) unless one with this
        event id is among the asset's latest events (a redelivery)."""
        assert trigger.asset is not None
        _refuse_unstorable(trigger)
        api = self.api(timeout)
        asset_id = self.asset_id(trigger.asset, api, timeout)
        if self._event_exists(api, asset_id, trigger.dag_run_id, timeout):
            return Outcome("duplicate", 200)
        method, path, body = trigger_request(trigger, api, asset_id=asset_id)
        reply = self.transport.request(method, path, body, timeout, api)
        if reply.status in (200, 201):
            return Outcome("queued", reply.status)
        if reply.status == 404:
            raise AssetNotFound(f"asset {trigger.asset!r} not found in Airflow: {reason(reply)}", airflow_status=404)
        raise classify(reply, f"asset {trigger.asset!r}", self.config.auth.type)

    def asset_id(self, asset: str, api: str, timeout: float) -> int:
        """The asset's id, looked up by name or URI once per instance (Airflow 2: the dataset's,
        by URI).

        Raises:
            AssetNotFound: Airflow knows no such asset; or the error of the lookup itself.
        """
        if asset in self._asset_ids:
            return self._asset_ids[asset]
        if api == "v2":
            found = None
            for field in ("name", "uri"):  # *_pattern is a LIKE filter: keep exact matches only
                reply = self.get(f"/assets?{field}_pattern={quote(asset, safe='')}&limit=100",
                                 f"asset {asset!r}", timeout)
                assets = (reply.json() or {}).get("assets", [])
                found = next((a["id"] for a in assets if a.get(field) == asset), None)
                if found is not None:
                    break
        else:
            reply = self.get(f"/datasets/{quote(asset, safe='')}", f"asset {asset!r}", timeout, missing_ok=True)
            found = (reply.json() or {}).get("id") if reply.status == 200 else None
        if not isinstance(found, int):
            raise AssetNotFound(f"asset {asset!r} not found in Airflow (by name or URI)", airflow_status=404)
        self._asset_ids[asset] = found
        return found

    def _event_exists(self, api: str, asset_id: int, event_id: str, timeout: float) -> bool:
        if api == "v2":
            path, key = f"/assets/events?asset_id={asset_id}", "asset_events"
        else:
            path, key = f"/datasets/events?dataset_id={asset_id}", "dataset_events"
        reply = self.get(f"{path}&order_by=-timestamp&limit={DEDUPE_WINDOW}", f"asset id {asset_id}", timeout)
        events = (reply.json() or {}).get(key, [])
        return any(isinstance(e.get("extra"), dict) and e["extra"].get(EVENT_ID_KEY) == event_id
                   for e in events if isinstance(e, dict))

    def get(self, path: str, what: str, timeout: float, missing_ok: bool = False) -> Reply:
        """``GET`` an API path (no version prefix) with the instance's API version; a non-200
        answer raises the typed error (a 404 is returned when ``missing_ok``)."""
        reply = self.transport.request("GET", path, None, timeout, self.api(timeout))
        if reply.status == 200 or (missing_ok and reply.status == 404):
            return reply
        raise classify(reply, what, self.config.auth.type)

    def retrying(self, attempt: Callable[[float], T], deadline: float | None) -> T:
        """Run ``attempt(timeout)`` until it succeeds, fails for good, or the deadline passes.
        Retrying a trigger is safe: its run id is deterministic, so a second POST is a 409."""
        return retry_until(attempt, deadline=deadline, timeout=self.config.timeout,
                           retryable=lambda exc: isinstance(exc, (AirflowUnavailable, AirflowServerError)),
                           clock=self._clock, sleep=self._sleep)


def _about_dag(reply: Reply) -> bool:
    """Is this 404 Airflow's own "DAG not found" (v1: title "DAG not found"; v2: "The Dag with ID
    ... was not found"), rather than a path no route serves (FastAPI's "Not Found", connexion's
    "The requested URL was not found", a proxy's HTML page)?"""
    data = reply.json()
    if not isinstance(data, dict):
        return False
    return any("dag" in str(data.get(key, "")).lower() for key in ("title", "detail"))


def _refuse_unstorable(trigger: Trigger) -> None:
    """The router refuses these (ConfNotStorable, 422); this catches runs that reach the client
    another way (a queued message from before that check, a redrive), as a permanent refusal."""
    for key, value in trigger.conf.items():
        problem = unstorable(value)
        if problem is not None:
            raise RunRefused(f"route {trigger.route}: conf.{key} holds {problem}; no Airflow can "
                             "store it", public="the run's conf holds a value Airflow cannot store")


def build_transport(config: AirflowConfig, pool: Http | None = None,
                    auth: Auth | None = None) -> Transport:
    """MWAA's InvokeRestApi for ``auth: {type: mwaa}``, else HTTP(S); for Cloud Composer without a
    ``url``, HTTP(S) to the URL the Composer API names. The MWAA and Composer modules are imported
    only when configured (MWAA's needs the optional boto3: a ConfigError says how to install it)."""
    if config.auth.type == "mwaa":
        from .mwaa import MwaaTransport
        return MwaaTransport(config)
    pool = pool if pool is not None else make_pool(config.verify_tls)
    # verify_tls is about Airflow alone: Google's token endpoint and the Composer API are always
    # verified, on their own connections.
    google_pool = pool if config.verify_tls is True else make_pool(True, maxsize=4)
    auth = auth if auth is not None else build_auth(config, pool, google_pool)
    if config.url is None and config.composer_environment is not None:
        from .composer import ComposerTransport
        return ComposerTransport(config, pool, auth, google_pool=google_pool)
    return HttpTransport(config, pool, auth)


__all__ = ["AirflowClient", "FIELD_SINCE", "HttpTransport", "Outcome", "Probe", "Transport",
           "accepts", "classify", "parse_version", "redact", "request_body", "trigger_request"]
