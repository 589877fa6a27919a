"""HTTP for the harness: one JSON request over urllib (stdlib; no proxies: everything is on
127.0.0.1), and the answer as a small value."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def http_request(method: str, url: str, *, body: Any = None,
                 headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> ApiResponse:
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
