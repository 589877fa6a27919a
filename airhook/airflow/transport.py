"""How requests reach Airflow's REST API: the :class:`Transport` protocol, what a server says
about itself (:class:`Probe`), and :class:`HttpTransport`, the REST API over HTTP(S) with the
configured credentials (self-hosted, Astronomer, and Cloud Composer's subclass).

Failures to reach Airflow become :class:`AirflowUnavailable`. The connections live in
:mod:`airhook.httpconn`, the refresh of a refused token in :mod:`airhook.authorized`. Neither
:mod:`.client` nor :mod:`.composer` is imported here: both build on this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..authorized import AuthorizedHttp, Credentials
from ..config import AirflowConfig
from ..errors import AirflowRejected, AirflowUnavailable
from ..httpconn import MAX_IDLE, Http, Reply, Unreachable
from .replies import classify

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
#: How often a 403 may cause a token refresh (airhook.authorized.AuthorizedHttp).
REFRESH_ON_403_INTERVAL = 60.0


@dataclass(frozen=True)
class Probe:
    """What an instance learns once about its Airflow: the REST API generation and, where the
    server says, its version (``(2, 10, 5)``), which decides the fields of a trigger body."""

    api: str
    version: tuple[int, ...] | None = None


def parse_version(text: Any) -> tuple[int, ...] | None:
    """``"2.10.5"``, ``"2.5.1+astro.1"``, ``"3.0.0rc1"``, ``"2.9.3-composer"`` -> its numbers."""
    if not isinstance(text, str):
        return None
    numbers: list[int] = []
    for part in text.split(".")[:3]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) != len(part):
            break  # "0rc1", "1+astro": the rest is not a version number
    return tuple(numbers) if numbers else None


class Transport(Protocol):
    """How requests reach Airflow's REST API. ``path`` is relative to the API root and has no
    version prefix (``/dags/deploy/dagRuns``); ``api`` (``v1``/``v2``) is the generation the
    client settled on, which HTTP puts in the URL and MWAA does not need."""

    def request(self, method: str, path: str, body: Any, timeout: float, api: str) -> Reply: ...

    def detect_api(self, timeout: float, api: str | None = None) -> Probe: ...


def make_pool(verify_tls: bool | str = True, maxsize: int = MAX_IDLE) -> Http:
    return Http(verify_tls, maxsize)


def send(pool: Http, method: str, url: str, *, timeout: float, body: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> Reply:
    """One request to Airflow (or its token endpoint), answered or raising AirflowUnavailable."""
    try:
        return pool.request(method, url, timeout=timeout, body=body, headers=headers)
    except Unreachable as exc:
        raise AirflowUnavailable(str(exc)) from None


def send_authorized(http: AuthorizedHttp, method: str, url: str, *, timeout: float,
                    body: bytes | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """:func:`send` with credentials, refreshed once when refused (``http``'s policy)."""
    try:
        return http.request(method, url, timeout=timeout, body=body, headers=headers)
    except Unreachable as exc:
        raise AirflowUnavailable(str(exc)) from None


class HttpTransport:
    """Airflow's REST API over HTTP(S): self-hosted, Astronomer, Cloud Composer."""

    def __init__(self, config: AirflowConfig, pool: Http, auth: Credentials) -> None:
        self.config = config
        self.pool = pool
        self.auth = auth
        # Airflow 3 answers 403 "Invalid JWT token" to a token signed with a rotated secret: a
        # 403 refreshes too, at most once a minute (a 403 is usually a real permission error).
        self.http = AuthorizedHttp(pool, auth, refresh_on_403_every=REFRESH_ON_403_INTERVAL)

    def request(self, method: str, path: str, body: Any, timeout: float, api: str) -> Reply:
        url = f"{self.config.url}/api/{api}{path}"
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        return send_authorized(self.http, method, url, timeout=timeout, body=data, headers=_JSON_HEADERS)

    def detect_api(self, timeout: float, api: str | None = None) -> Probe:
        """``GET /api/{v2,v1}/version`` with the configured credentials (only ``api`` when given).

        Only a 200 proves a generation: a front end that guards the whole host (Cloud Composer's,
        an auth proxy) answers an anonymous or refused request with a 401/403 or a 302 to its
        sign-in page for *any* path, so those are auth failures, never an API guess.
        """
        for candidate in ((api,) if api is not None else ("v2", "v1")):
            reply = self.request("GET", "/version", None, timeout, candidate)
            if reply.status == 200:
                data = reply.json()
                return Probe(candidate, parse_version(data.get("version") if isinstance(data, dict) else None))
            if reply.status != 404:
                raise classify(reply, f"GET /api/{candidate}/version", self.config.auth.type)
        raise AirflowRejected("neither /api/v2/version nor /api/v1/version exists at airflow.url",
                              public="Airflow's REST API was not found at the configured URL")


__all__ = ["HttpTransport", "Probe", "REFRESH_ON_403_INTERVAL", "Reply", "Transport", "make_pool",
           "parse_version", "send", "send_authorized"]
