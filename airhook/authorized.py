"""Requests that carry credentials, and the one place where a refused token is refreshed and the
request sent again, once, for ``HttpTransport`` (Airflow), ``ComposerDiscovery`` (the Composer API)
and ``PubSub``. Plus the one holder of Google credentials (Application Default Credentials,
refreshed over airhook's own connections), for ``airflow/auth.GoogleAuth`` and ``PubSub``.

Its own module rather than part of :mod:`airhook.httpconn`: that one moves bytes and knows nothing
of tokens; this one knows tokens and nothing of sockets.

The pattern is google-auth's ``google.auth.transport.urllib3.AuthorizedHttp``: refresh on 401 and
retry, in one place that every caller goes through (``refresh_status_codes``; at most one refresh
per request here, as ``_DEFAULT_MAX_REFRESH_ATTEMPTS`` is 2 there but a second 401 after a fresh
token is an answer, not a stale token).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from .httpconn import Http, Reply, google_request


class Credentials(Protocol):
    """Headers for a request; after a refusal, ``refresh`` forgets the token and says whether a
    new one may help (False: fixed credentials, the refusal stands). ``airflow/auth.py``'s
    schemes already have this shape."""

    def headers(self) -> Mapping[str, str]: ...

    def refresh(self) -> bool: ...


class StaticCredentials:
    """Fixed headers, nothing to refresh: Airflow's ``none``, ``basic`` and ``bearer`` schemes, and
    the Pub/Sub emulator's none."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._headers = dict(headers or {})

    def headers(self) -> Mapping[str, str]:
        return self._headers

    def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "StaticCredentials(<redacted>)"


class AuthorizedHttp:
    """``pool`` with ``credentials``: refreshed once when the server answers 401.

    Args:
        refresh_on_403_every: also refresh on a 403, at most once per this many seconds (Airflow 3
            answers 403 "Invalid JWT token" to a token signed with a rotated secret, but a 403 is
            usually a real permission error, and refreshing for every delivery would hammer the
            token endpoint). None: never on 403.

    Errors from ``pool`` (:class:`~airhook.httpconn.Unreachable`) and from the credentials pass
    through unchanged: the caller owns its typed errors.
    """

    def __init__(self, pool: Http, credentials: Credentials, *,
                 refresh_on_403_every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.credentials = credentials
        self._every_403 = refresh_on_403_every
        self._clock = clock
        self._lock = threading.Lock()
        self._last_403 = float("-inf")
        #: refreshes caused by a refusal (tests and logs)
        self.refreshes = 0

    def request(self, method: str, url: str, *, timeout: float, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        reply = self._send(method, url, timeout, body, headers)
        if self._worth_refreshing(reply.status) and self.credentials.refresh():
            self.refreshes += 1
            reply = self._send(method, url, timeout, body, headers)
        return reply

    def _send(self, method: str, url: str, timeout: float, body: bytes | None,
              headers: Mapping[str, str] | None) -> Reply:
        return self.pool.request(method, url, timeout=timeout, body=body,
                                 headers={**(headers or {}), **self.credentials.headers()})

    def _worth_refreshing(self, status: int) -> bool:
        if status == 401:
            return True
        if status != 403 or self._every_403 is None:
            return False
        now = self._clock()
        with self._lock:
            if now - self._last_403 < self._every_403:
                return False
            self._last_403 = now
            return True


class GoogleCredentials:
    """Application Default Credentials (the function's service account) with ``scopes``, one
    object per instance, refreshed over ``pool`` only when no longer valid. google-auth is
    imported on first use, so targets that need no Google token never load it.

    Args:
        unavailable: makes the caller's error for "Google's token endpoint did not answer"
            (``AirflowUnavailable``, ``QueueUnavailable``): worth retrying.
        refused: makes the caller's error for every other failure (no credentials found, a
            refused grant): ``AirflowAuthError``, ``QueueUnavailable``.
        credentials: google-auth credentials to use instead of looking them up (tests).
    """

    def __init__(self, scopes: Sequence[str], pool: Http, *,
                 unavailable: Callable[[str], Exception], refused: Callable[[str], Exception],
                 credentials: Any = None) -> None:
        self._scopes = list(scopes)
        self._pool = pool
        self._unavailable = unavailable
        self._refused = refused
        self._credentials = credentials
        self._request: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "GoogleCredentials(<redacted>)"

    def headers(self) -> Mapping[str, str]:
        import google.auth
        import google.auth.exceptions

        with self._lock:
            if self._request is None:
                self._request = google_request(self._pool)
            try:
                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=self._scopes)
                if not self._credentials.valid:
                    self._credentials.refresh(self._request)
            except google.auth.exceptions.TransportError as exc:
                raise self._unavailable(f"Google token endpoint unreachable: {exc}") from None
            except google.auth.exceptions.GoogleAuthError as exc:
                raise self._refused(f"Google credentials failed: {type(exc).__name__}: {exc}") from None
            headers: dict[str, str] = {}
            self._credentials.apply(headers)
            return headers

    def refresh(self) -> bool:
        with self._lock:
            if self._credentials is None:
                return False
            self._credentials.token = None  # not valid any more: the next request fetches one
            return True


__all__ = ["AuthorizedHttp", "Credentials", "GoogleCredentials", "StaticCredentials"]
