"""Trigger DAG runs through Airflow's REST API: v1 (Airflow 2) or v2 (Airflow 3)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3

from ..config import AirflowConfig
from ..errors import (AirflowAuthError, AirflowError, AirflowRejected, AirflowServerError,
                      AirflowUnavailable, DagNotFound)
from ..routing import Trigger
from .auth import Auth, build_auth
from .transport import Reply, make_pool, send

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True)
class Outcome:
    """What Airflow said about one trigger: ``queued`` (created) or ``duplicate`` (409: a run with
    that id exists, i.e. this delivery was already triggered)."""

    status: str
    airflow_status: int


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


def _reason(reply: Reply) -> str:
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


class AirflowClient:
    """One per instance: a keep-alive pool, the credentials, and the API version (asked once)."""

    def __init__(self, config: AirflowConfig, *, pool: urllib3.PoolManager | None = None,
                 auth: Auth | None = None) -> None:
        self.config = config
        self.pool = pool if pool is not None else make_pool(config.verify_tls)
        self.auth = auth if auth is not None else build_auth(config, self.pool)
        self._api = None if config.api == "auto" else config.api
        self._api_lock = threading.Lock()

    # ------------------------------------------------------------------------------------ version

    def api(self) -> str:
        """``v1`` or ``v2``; with ``api: auto`` the server is asked once per instance."""
        if self._api is None:
            with self._api_lock:
                if self._api is None:
                    self._api = self._detect()
        return self._api

    def _detect(self) -> str:
        # /version answers without auth on some versions and 401/403 on others: any of those
        # proves the API generation exists; 404 means it does not.
        for api in ("v2", "v1"):
            reply = send(self.pool, "GET", f"{self.config.url}/api/{api}/version",
                         timeout=self.config.timeout, headers={"Accept": "application/json"})
            if reply.status in (200, 401, 403):
                return api
            if reply.status >= 500:
                raise AirflowServerError(f"/api/{api}/version answered {reply.status}",
                                         airflow_status=reply.status)
        raise AirflowRejected("neither /api/v2/version nor /api/v1/version exists at airflow.url",
                              public="Airflow's REST API was not found at the configured URL")

    # ------------------------------------------------------------------------------------ trigger

    def trigger(self, trigger: Trigger) -> Outcome:
        """Create the run, or recognise it as a duplicate.

        Raises:
            AirflowUnavailable: no answer (503).
            AirflowServerError: Airflow answered 5xx (503).
            AirflowAuthError: 401/403 even after one credential refresh.
            DagNotFound: Airflow does not know the DAG (a configuration error).
            AirflowRejected: another 4xx.
        """
        api = self.api()
        url = f"{self.config.url}/api/{api}/dags/{quote(trigger.dag_id, safe='')}/dagRuns"
        body = json.dumps(request_body(trigger, api), separators=(",", ":")).encode("utf-8")
        reply = self._post(url, body)
        if reply.status == 401 and self.auth.refresh():
            reply = self._post(url, body)
        status = reply.status
        if status in (200, 201):
            return Outcome("queued", status)
        if status == 409:
            return Outcome("duplicate", status)
        reason = _reason(reply)
        error: AirflowError
        if status in (401, 403):
            error = AirflowAuthError(f"Airflow answered {status}: {reason}", airflow_status=status)
        elif status == 404:
            error = DagNotFound(f"DAG {trigger.dag_id!r} not found in Airflow: {reason}", airflow_status=status)
        elif status >= 500:
            error = AirflowServerError(f"Airflow answered {status}: {reason}", airflow_status=status)
        elif status == 429:
            error = AirflowServerError("Airflow answered 429 (rate limited)", airflow_status=status)
        else:
            error = AirflowRejected(f"Airflow answered {status}: {reason}", airflow_status=status)
        raise error

    def _post(self, url: str, body: bytes) -> Reply:
        headers = {**_JSON_HEADERS, **self.auth.headers()}
        return send(self.pool, "POST", url, timeout=self.config.timeout, body=body, headers=headers)


__all__ = ["AirflowClient", "Outcome", "request_body", "AirflowUnavailable"]
