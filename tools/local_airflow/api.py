"""The harness's REST client: one JSON request over urllib (stdlib; no proxies: everything is on
127.0.0.1), the answer as a small value, and :class:`AirflowRest`, the authenticated calls that
AirflowServer offers tests to compare with airhook (raw triggers, runs, waiting for a state)."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError, LocalAirflowError

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ApiResponse:
    """A REST answer: status, decoded JSON body (or text if not JSON) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        return f"HTTP {self.status} {json.dumps(self.body)[:500] if self.body is not None else ''}"


#: The tests' own questions to Airflow (is the run there? with which conf?): generous, because an
#: Airflow 3 API server on a busy 2-core machine has taken over 10 s to answer a GET.
REQUEST_TIMEOUT = 30.0


def http_request(method: str, url: str, *, body: Any = None,
                 headers: Mapping[str, str] | None = None, timeout: float = REQUEST_TIMEOUT) -> ApiResponse:
    """One JSON request. HTTP error statuses are returned, not raised; connection errors raise
    OSError (urllib.error.URLError is one)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw, hdrs = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, raw, hdrs = err.code, err.read(), dict(err.headers or {})
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return ApiResponse(status, parsed, hdrs)



def quote_part(part: str) -> str:
    """One URL path segment, e.g. a DAG or run id."""
    # Run ids may contain ':' '+' '/' (Airflow's own manual__2024-...+00:00): quote everything.
    return urllib.parse.quote(part, safe="")


class AirflowRest:
    """Authenticated calls to ``/api/vX`` of an Airflow on 127.0.0.1 (Basic for API v1, a cached
    JWT from ``POST /auth/token`` for v2). Mixed into :class:`~tools.local_airflow.AirflowServer`,
    which sets the attributes below."""

    major: int
    username: str
    password: str
    home: Path | None
    _token: str | None
    _token_lock: threading.Lock

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def api_url(self) -> str:
        raise NotImplementedError


    def auth_headers(self, refresh: bool = False) -> dict[str, str]:
        """Authorization header: Basic for API v1, a cached JWT (POST /auth/token) for v2."""
        if self.major < 3:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        with self._token_lock:
            if self._token is None or refresh:
                resp = http_request("POST", f"{self.url}/auth/token",
                                    body={"username": self.username, "password": self.password})
                if resp.status not in (200, 201) or not isinstance(resp.body, dict):
                    raise ApiError("POST /auth/token failed", resp)
                self._token = str(resp.body["access_token"])
            return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, body: Any = None, *,
                timeout: float = REQUEST_TIMEOUT) -> ApiResponse:
        """An authenticated call to ``/api/vX/<path>``; statuses are returned, not raised.

        Raises:
            OSError: the API is unreachable (e.g. after :meth:`stop_api`).
        """
        url = f"{self.api_url}/{path.lstrip('/')}"
        resp = http_request(method, url, body=body, headers=self.auth_headers(), timeout=timeout)
        if resp.status == 401 and self.major >= 3:  # token expired: fetch a new one, once
            resp = http_request(method, url, body=body, headers=self.auth_headers(refresh=True),
                                timeout=timeout)
        return resp

    def trigger(self, dag_id: str, run_id: str | None = None,
                conf: Mapping[str, Any] | None = None, note: str | None = None) -> ApiResponse:
        """A raw REST trigger (``POST /api/vX/dags/{dag_id}/dagRuns``), for comparing with airhook.

        v2 requires the ``logical_date`` key (null = now); v1 rejects it. The response is returned
        as is: 200 queued, 409 duplicate run id, 404 unknown DAG...
        """
        body: dict[str, Any] = {"conf": dict(conf or {})}
        if self.major >= 3:
            body["logical_date"] = None
        if run_id is not None:
            body["dag_run_id"] = run_id
        if note is not None:
            body["note"] = note
        return self.request("POST", f"dags/{quote_part(dag_id)}/dagRuns", body)

    def get_dag_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The DAG run, or None if Airflow has no such run (404)."""
        resp = self.request("GET", f"dags/{quote_part(dag_id)}/dagRuns/{quote_part(run_id)}")
        if resp.status == 404:
            return None
        if resp.status != 200 or not isinstance(resp.body, dict):
            raise ApiError(f"GET dagRun {dag_id}/{run_id}", resp)
        return resp.body

    def list_dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` (all pages)."""
        runs: list[dict[str, Any]] = []
        while True:
            resp = self.request("GET", f"dags/{quote_part(dag_id)}/dagRuns?limit=100&offset={len(runs)}")
            if resp.status != 200 or not isinstance(resp.body, dict):
                raise ApiError(f"GET dagRuns of {dag_id}", resp)
            page = resp.body.get("dag_runs", [])
            runs.extend(page)
            if not page or len(runs) >= int(resp.body.get("total_entries", 0)):
                return runs

    def wait_for_run_state(self, dag_id: str, run_id: str,
                           states: Sequence[str] = ("success",), timeout: float = 60.0,
                           poll: float = 0.5) -> dict[str, Any]:
        """Poll the run until its state is in ``states``; return it.

        Raises:
            LocalAirflowError: the run ended in another final state (e.g. failed), or ``timeout``
                passed (the message gives the last state seen).
        """
        deadline = time.monotonic() + timeout
        run: dict[str, Any] | None = None
        while True:
            run = self.get_dag_run(dag_id, run_id)
            state = None if run is None else run.get("state")
            if run is not None and state in states:
                return run
            if state in ("success", "failed"):
                raise LocalAirflowError(f"run {dag_id}/{run_id} ended {state!r}, wanted "
                                        f"{list(states)}; task logs under {self.home}/logs")
            if time.monotonic() > deadline:
                raise LocalAirflowError(f"run {dag_id}/{run_id} still {state!r} after "
                                        f"{timeout:.0f}s, wanted {list(states)}")
            time.sleep(poll)
