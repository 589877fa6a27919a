"""Trigger DAG runs through Airflow's REST API: v1 (Airflow 2) or v2 (Airflow 3), over HTTP or
through another transport (MWAA's InvokeRestApi), retried within the sender's deadline."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, TypeVar
from urllib.parse import quote


from ..config import AirflowConfig
from ..errors import (AirflowAuthError, AirflowError, AirflowRejected, AirflowServerError,
                      AirflowUnavailable, AssetNotFound, DagNotFound)
from ..routing import Trigger
from .auth import Auth, build_auth
from .transport import Http, Reply, make_pool, send

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
#: Backoff between attempts: full jitter over an exponential ceiling (AWS's "full jitter").
FIRST_BACKOFF = 0.2
MAX_BACKOFF = 2.0
#: How often a 403 may cause a token refresh (see HttpTransport._refresh_on_403).
REFRESH_ON_403_INTERVAL = 60.0
#: An attempt with less time than this left is not worth starting.
MIN_ATTEMPT = 0.25
#: Asset events carry their deterministic id in ``extra`` under this key: Airflow does not dedupe
#: asset events, so airhook looks for it among the asset's latest events before posting.
EVENT_ID_KEY = "airhook_event_id"
#: How many of an asset's latest events are searched for a redelivered event id.
DEDUPE_WINDOW = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What Airflow said about one trigger: ``queued`` (created) or ``duplicate`` (409: a run with
    that id exists, i.e. this delivery was already triggered)."""

    status: str
    airflow_status: int


class Transport(Protocol):
    """How requests reach Airflow's REST API. ``path`` is relative to the API root and has no
    version prefix (``/dags/deploy/dagRuns``); ``api`` (``v1``/``v2``) is the generation the
    client settled on, which HTTP puts in the URL and MWAA does not need."""

    def request(self, method: str, path: str, body: Any, timeout: float, api: str) -> Reply: ...

    def detect_api(self, timeout: float) -> str: ...


class HttpTransport:
    """Airflow's REST API over HTTP(S): self-hosted, Astronomer, Cloud Composer."""

    def __init__(self, config: AirflowConfig, pool: Http, auth: Auth) -> None:
        self.config = config
        self.pool = pool
        self.auth = auth
        self._refresh_lock = threading.Lock()
        self._last_403_refresh = float("-inf")

    def request(self, method: str, path: str, body: Any, timeout: float, api: str) -> Reply:
        url = f"{self.config.url}/api/{api}{path}"
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        reply = send(self.pool, method, url, timeout=timeout, body=data,
                     headers={**_JSON_HEADERS, **self.auth.headers()})
        if (reply.status == 401 or (reply.status == 403 and self._refresh_on_403())) and self.auth.refresh():
            # An expired or revoked token: fetch a new one, once. Airflow 3 answers 403 "Invalid
            # JWT token" to a token signed with a rotated secret.
            reply = send(self.pool, method, url, timeout=timeout, body=data,
                         headers={**_JSON_HEADERS, **self.auth.headers()})
        return reply

    def _refresh_on_403(self) -> bool:
        """At most once a minute: a 403 is usually a real permission error, and refreshing for
        every delivery would hammer the token endpoint."""
        now = time.monotonic()
        with self._refresh_lock:
            if now - self._last_403_refresh < REFRESH_ON_403_INTERVAL:
                return False
            self._last_403_refresh = now
            return True

    def detect_api(self, timeout: float) -> str:
        # /version answers without auth on some versions and 401/403 on others: any of those
        # proves the API generation exists; 404 means it does not.
        for api in ("v2", "v1"):
            reply = send(self.pool, "GET", f"{self.config.url}/api/{api}/version", timeout=timeout,
                         headers={"Accept": "application/json"})
            if reply.status in (200, 401, 403):
                return api
            if reply.status >= 500:
                raise AirflowServerError(f"/api/{api}/version answered {reply.status}",
                                         airflow_status=reply.status)
        raise AirflowRejected("neither /api/v2/version nor /api/v1/version exists at airflow.url",
                              public="Airflow's REST API was not found at the configured URL")


def request_body(trigger: Trigger, api: str) -> dict[str, Any]:
    """The JSON body of ``POST .../dags/{dag_id}/dagRuns``. Airflow 3 requires the
    ``logical_date`` key (null: "now", and no uniqueness on dates) and refuses unknown keys;
    Airflow 2 refuses ``logical_date: null``."""
    body: dict[str, Any] = {"dag_run_id": trigger.dag_run_id, "conf": trigger.conf}
    if api == "v2":
        body["logical_date"] = None
    if trigger.note is not None:
        body["note"] = trigger.note
    return body


def reason(reply: Reply) -> str:
    """A short reason from Airflow's error body for the log. Only titles and messages: Airflow 3's
    validation errors echo the request (``input``), which may hold payload data."""
    data = reply.json()
    if isinstance(data, dict):
        detail = data.get("detail", data.get("title", ""))
        if isinstance(detail, list):
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}"
                               for d in detail if isinstance(d, dict))
        return str(detail)[:200]
    return reply.body[:120].decode("utf-8", "replace")


_FORBIDDEN_HINT = {
    "google": "the function's service account needs an Airflow role that may create DAG runs "
              "(Composer: register it as an Airflow user with the Op role, or grant "
              "roles/composer.user plus the Airflow role on Composer 3)",
    "airflow-jwt": "the Airflow user needs a role that may trigger DAGs (e.g. Op or Admin)",
    "basic": "the Airflow user needs a role that may trigger DAGs (e.g. Op or Admin)",
    "bearer": "the token's role may not trigger DAGs (Astronomer: a Deployment/Workspace token "
              "with the Operator role or higher)",
    "mwaa": "the IAM identity needs airflow:InvokeRestApi on the environment and an Airflow role "
            "that may trigger DAGs",
}


def classify(reply: Reply, what: str, auth_type: str) -> AirflowError:
    """The typed error for a non-success answer from Airflow."""
    status = reply.status
    why = reason(reply)
    if status == 401:
        return AirflowAuthError(f"Airflow answered 401 to {what}: {why}", airflow_status=status)
    if status == 403:
        hint = _FORBIDDEN_HINT.get(auth_type, "")
        return AirflowAuthError(f"Airflow answered 403 to {what}: {why}; {hint}", airflow_status=status)
    if status == 404:
        return DagNotFound(f"{what}: not found in Airflow: {why}", airflow_status=status)
    if status == 429:
        return AirflowServerError(f"Airflow answered 429 (rate limited) to {what}", airflow_status=status)
    if status >= 500:
        return AirflowServerError(f"Airflow answered {status} to {what}: {why}", airflow_status=status)
    return AirflowRejected(f"Airflow answered {status} to {what}: {why}", airflow_status=status)


class AirflowClient:
    """One per instance: the transport (keep-alive pool and credentials, or MWAA), the API version
    (asked once with ``api: auto``), and the retry policy."""

    def __init__(self, config: AirflowConfig, *, transport: Transport | None = None,
                 pool: Http | None = None, auth: Auth | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        if transport is None:
            transport = build_transport(config, pool, auth)
        self.transport = transport
        self._api = None if config.api == "auto" else config.api
        self._api_lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._asset_ids: dict[str, int] = {}

    # ------------------------------------------------------------------------------------ version

    def api(self, timeout: float | None = None) -> str:
        """``v1`` or ``v2``; with ``api: auto`` the server is asked once per instance."""
        if self._api is None:
            with self._api_lock:
                if self._api is None:
                    self._api = self.transport.detect_api(timeout or self.config.timeout)
        return self._api

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
        api = self.api(timeout)
        reply = self.transport.request("POST", f"/dags/{quote(trigger.dag_id, safe='')}/dagRuns",
                                       request_body(trigger, api), timeout, api)
        if reply.status in (200, 201):
            return Outcome("queued", reply.status)
        if reply.status == 409:
            return Outcome("duplicate", reply.status)
        raise classify(reply, f"DAG {trigger.dag_id!r}", self.config.auth.type)

    # ------------------------------------------------------------------------------------ assets

    def _asset_event_once(self, trigger: Trigger, timeout: float) -> Outcome:
        """Post an asset event (Airflow 3) or dataset event (Airflow 2.9+) unless one with this
        event id is among the asset's latest events (a redelivery)."""
        assert trigger.asset is not None
        api = self.api(timeout)
        asset_id = self._asset_id(trigger.asset, api, timeout)
        if self._event_exists(api, asset_id, trigger.dag_run_id, timeout):
            return Outcome("duplicate", 200)
        extra = {**trigger.conf, EVENT_ID_KEY: trigger.dag_run_id}
        if api == "v2":
            reply = self.transport.request("POST", "/assets/events", {"asset_id": asset_id, "extra": extra},
                                           timeout, api)
        else:
            reply = self.transport.request("POST", "/datasets/events",
                                           {"dataset_uri": trigger.asset, "extra": extra}, timeout, api)
        if reply.status in (200, 201):
            return Outcome("queued", reply.status)
        if reply.status == 404:
            raise AssetNotFound(f"asset {trigger.asset!r} not found in Airflow: {reason(reply)}", airflow_status=404)
        raise classify(reply, f"asset {trigger.asset!r}", self.config.auth.type)

    def _asset_id(self, asset: str, api: str, timeout: float) -> int:
        """The asset's id, looked up by name or URI once per instance."""
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
        ceiling = FIRST_BACKOFF
        while True:
            timeout = self.config.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - self._clock())
            try:
                return attempt(max(timeout, MIN_ATTEMPT))
            except (AirflowUnavailable, AirflowServerError):
                if deadline is None:
                    raise
                pause = random.uniform(0, ceiling)
                ceiling = min(ceiling * 2, MAX_BACKOFF)
                if self._clock() + pause + MIN_ATTEMPT >= deadline:
                    raise
                self._sleep(pause)


def build_transport(config: AirflowConfig, pool: Http | None = None,
                    auth: Auth | None = None) -> Transport:
    """MWAA's InvokeRestApi for ``auth: {type: mwaa}``, else HTTP(S); for Cloud Composer without a
    ``url``, HTTP(S) to the URL the Composer API names. The MWAA and Composer modules are imported
    only when configured (MWAA's needs the optional boto3: a ConfigError says how to install it)."""
    if config.auth.type == "mwaa":
        from .mwaa import MwaaTransport
        return MwaaTransport(config)
    pool = pool if pool is not None else make_pool(config.verify_tls)
    auth = auth if auth is not None else build_auth(config, pool)
    if config.url is None and config.composer_environment is not None:
        from .composer import ComposerTransport
        return ComposerTransport(config, pool, auth)
    return HttpTransport(config, pool, auth)


__all__ = ["AirflowClient", "HttpTransport", "Outcome", "Transport", "classify", "request_body"]
