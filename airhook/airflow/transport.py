"""One keep-alive HTTP pool per instance, and the one place HTTP failures become typed errors.

urllib3 directly rather than ``requests``: the forward path is one small JSON POST, and requests'
per-call machinery (hooks, cookie jars, environment proxy lookups, redirect handling) costs more
CPU than verification itself on a busy instance. urllib3 is already a dependency of requests and
google-auth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import urllib3
from urllib3.exceptions import HTTPError, ProtocolError

from ..errors import AirflowUnavailable


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def make_pool(verify_tls: bool | str = True, maxsize: int = 16) -> urllib3.PoolManager:
    """A pool sized for functions-framework's threads (cpu_count * 4); ``block=False`` lets a burst
    open extra short-lived connections rather than wait."""
    if verify_tls is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        return urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False, cert_reqs="CERT_NONE")
    if isinstance(verify_tls, str):
        return urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False, ca_certs=verify_tls)
    return urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False)


def send(pool: urllib3.PoolManager, method: str, url: str, *, timeout: float,
         body: bytes | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """One request, answered or turned into AirflowUnavailable.

    A connection the server closed while idle in the pool fails with ProtocolError before any
    answer: that one case is retried once, on a fresh connection. Re-sending a trigger is safe
    because run ids are deterministic (the second POST would be a 409). Timeouts are not retried:
    the sender's own deadline is close.
    """
    attempt_timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
    for attempt in (1, 2):
        try:
            response = pool.request(method, url, body=body, headers=dict(headers or {}),
                                    timeout=attempt_timeout, retries=False, redirect=False,
                                    preload_content=True)
            return Reply(response.status, response.data)
        except ProtocolError as exc:
            if attempt == 2:
                raise AirflowUnavailable(f"{method} {_strip(url)}: connection lost: {exc}") from None
        except (HTTPError, OSError) as exc:
            raise AirflowUnavailable(f"{method} {_strip(url)}: {type(exc).__name__}: {exc}") from None
    raise AssertionError("unreachable")


def _strip(url: str) -> str:
    # URLs carry no credentials here, but never log a query string.
    return url.split("?", 1)[0]
