"""The Airflow side of HTTP: failures to reach Airflow become :class:`AirflowUnavailable`.

The connections themselves live in :mod:`airhook.httpconn`.
"""

from __future__ import annotations

from typing import Mapping

from ..errors import AirflowUnavailable
from ..httpconn import MAX_IDLE, Http, Reply, Unreachable, google_request

__all__ = ["Http", "Reply", "google_request", "make_pool", "send"]


def make_pool(verify_tls: bool | str = True, maxsize: int = MAX_IDLE) -> Http:
    return Http(verify_tls, maxsize)


def send(pool: Http, method: str, url: str, *, timeout: float, body: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> Reply:
    """One request to Airflow (or its token endpoint), answered or raising AirflowUnavailable."""
    try:
        return pool.request(method, url, timeout=timeout, body=body, headers=headers)
    except Unreachable as exc:
        raise AirflowUnavailable(str(exc)) from None
