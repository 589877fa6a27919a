"""Credentials for Airflow's API, one object per instance.

Each scheme gives request headers and, after a 401, may ``refresh`` once (True = try again).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..authorized import Credentials, GoogleCredentials, StaticCredentials
from ..config import AirflowConfig
from ..errors import AirflowAuthError, AirflowServerError, AirflowUnavailable, ConfigError
from ..httpconn import Http
from .transport import send

#: Refresh a JWT this long before it expires, so a request never carries one that dies in flight;
#: at most a quarter of its lifetime, or a short-lived token would be refetched for every request.
EXPIRY_MARGIN = 60.0


#: A scheme's shape: request headers, and ``refresh`` after a refusal (True: try again).
Auth = Credentials


#: ``none``, ``basic`` and ``bearer``: a fixed header, nothing to refresh.
StaticAuth = StaticCredentials


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim, read without verifying (Airflow verifies; we only schedule refreshes)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class AirflowJwtAuth:
    """Airflow 3: ``POST /auth/token`` with username and password gives a JWT, cached until
    shortly before it expires and refreshed once when Airflow answers 401."""

    def __init__(self, url: str, username: str, password: str, pool: Http,
                 timeout: float, clock: Callable[[], float] = time.time) -> None:
        self._url = url.rstrip("/") + "/auth/token"
        self._body = json.dumps({"username": username, "password": password}).encode()
        self._pool = pool
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        #: how many tokens were fetched (tests and logs)
        self.fetches = 0

    def __repr__(self) -> str:
        return "AirflowJwtAuth(<redacted>)"

    def _fetch(self) -> None:
        reply = send(self._pool, "POST", self._url, timeout=self._timeout, body=self._body,
                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        if reply.status in (401, 403):
            raise AirflowAuthError("Airflow refused the username/password at /auth/token",
                                   airflow_status=reply.status)
        if reply.status >= 500:
            raise AirflowServerError(f"/auth/token answered {reply.status}", airflow_status=reply.status)
        data = reply.json()
        token = data.get("access_token") if isinstance(data, dict) else None
        if reply.status not in (200, 201) or not isinstance(token, str):
            raise AirflowAuthError(f"/auth/token answered {reply.status} without a token",
                                   airflow_status=reply.status)
        self.fetches += 1
        self._token = token
        now = self._clock()
        expiry = _jwt_expiry(token)
        # Unknown expiry: keep it for 10 minutes; a 401 refreshes it anyway.
        expiry = expiry if expiry is not None else now + 600
        self._expires = expiry - min(EXPIRY_MARGIN, max(expiry - now, 0) / 4)

    def headers(self) -> Mapping[str, str]:
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._fetch()
            return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
        return True


class GoogleAuth(GoogleCredentials):
    """Cloud Composer: Application Default Credentials (the function's service account) with the
    cloud-platform scope, as :class:`~airhook.authorized.GoogleCredentials` holds them: Google's
    token endpoint not answering is worth a retry, any other failure is an auth error."""

    def __init__(self, scopes: Sequence[str], pool: Http, credentials: Any = None) -> None:
        super().__init__(scopes, pool, unavailable=AirflowUnavailable, refused=AirflowAuthError,
                         credentials=credentials)

    def __repr__(self) -> str:
        return "GoogleAuth(<redacted>)"


def build_auth(config: AirflowConfig, pool: Http, google_pool: Http | None = None) -> Auth:
    """The configured scheme. ``pool`` reaches Airflow (and its ``/auth/token``) with
    ``airflow.verify_tls``; ``google_pool`` reaches Google's token endpoint, always verified."""
    auth = config.auth
    if auth.type == "none":
        return StaticAuth({})
    if auth.type == "basic":
        pair = f"{auth.username}:{auth.password}".encode()
        return StaticAuth({"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")})
    if auth.type == "bearer":
        return StaticAuth({"Authorization": f"Bearer {auth.token}"})
    if auth.type == "airflow-jwt":
        assert auth.username is not None and auth.password is not None and config.url is not None
        return AirflowJwtAuth(config.url, auth.username, auth.password, pool, config.timeout)
    if auth.type == "google":
        return GoogleAuth(auth.scopes, google_pool if google_pool is not None else pool)
    raise ConfigError(f"airflow.auth.type: unsupported {auth.type!r}")
