"""Cloud Composer 2 and 3: the Airflow web server's URL, discovered from the environment's resource
name (``airflow.composer_environment``) when ``airflow.url`` is not given.

``GET {composer_endpoint}/v1/projects/P/locations/L/environments/E`` with the function's own Google
credentials (the same :class:`~airhook.airflow.auth.GoogleAuth` that then calls Airflow, refreshed
once on a 401 by :class:`~airhook.authorized.AuthorizedHttp`) answers the
environment, whose ``config.airflowUri`` is the URL. It is asked once per instance, on first use,
and only a success is kept: a failed lookup is tried again by the next attempt.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from ..authorized import AuthorizedHttp
from ..config import AirflowConfig
from ..errors import AirflowAuthError, AirflowRejected, AirflowServerError, TargetNotFound
from ..httpconn import Http, Reply
from .auth import Auth
from .transport import HttpTransport, Probe, send_authorized

#: What a 403 from the Composer API means for the function's service account.
PERMISSION_HINT = ("the function's service account needs composer.environments.get on the "
                   "environment: grant it roles/composer.user on the environment's project")


def _message(reply: Reply) -> str:
    """Google's error message (``{"error": {"message": ...}}``) for the log; never the body."""
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("message", ""))[:300]
    return ""


class ComposerDiscovery:
    """The environment's ``config.airflowUri``, asked of the Composer API once per instance."""

    def __init__(self, environment: str, endpoint: str, pool: Http, auth: Auth) -> None:
        self.environment = environment
        self._url = f"{endpoint.rstrip('/')}/v1/{environment}"
        self._pool = pool  # Google's: always verified, whatever airflow.verify_tls says
        # A revoked token is refreshed once on a 401; a 403 is the missing role (PERMISSION_HINT).
        self._http = AuthorizedHttp(pool, auth)
        self._lock = threading.Lock()
        self._airflow_uri: str | None = None
        #: how many times the Composer API was asked (tests and logs)
        self.lookups = 0

    def __repr__(self) -> str:
        return f"ComposerDiscovery({self.environment!r})"

    def airflow_uri(self, timeout: float) -> str:
        """The web server URL, without a trailing slash.

        Raises:
            AirflowUnavailable: the Composer API (or Google's token endpoint) did not answer.
            AirflowServerError: it answered 5xx/429, or the environment has no URL yet.
            AirflowAuthError: 401/403 (the service account lacks ``roles/composer.user``).
            TargetNotFound: no such environment (a configuration error).
        """
        if self._airflow_uri is None:
            with self._lock:  # concurrent first requests: one lookup
                if self._airflow_uri is None:
                    self._airflow_uri = self._lookup(timeout)
        return self._airflow_uri

    def _lookup(self, timeout: float) -> str:
        self.lookups += 1
        reply = send_authorized(self._http, "GET", self._url, timeout=timeout,
                                headers={"Accept": "application/json"})
        what = f"Cloud Composer API GET {self.environment}"
        if reply.status == 200:
            data = reply.json()
            config: Any = data.get("config") if isinstance(data, dict) else None
            uri = config.get("airflowUri") if isinstance(config, dict) else None
            if isinstance(uri, str) and uri.startswith(("https://", "http://")):
                return uri.rstrip("/")
            state = data.get("state", "?") if isinstance(data, dict) else "?"
            # An environment being created has no web server yet: worth retrying later.
            raise AirflowServerError(f"{what}: the environment has no config.airflowUri "
                                     f"(state {state})", airflow_status=200)
        message = _message(reply)
        if reply.status in (401, 403):
            hint = PERMISSION_HINT if reply.status == 403 else "Google refused the function's token"
            raise AirflowAuthError(f"{what} answered {reply.status}: {message}; {hint}",
                                   airflow_status=reply.status)
        if reply.status == 404:
            raise TargetNotFound(f"{what} answered 404: no such environment "
                                 f"(airflow.composer_environment): {message}", airflow_status=404)
        if reply.status == 429 or reply.status >= 500:
            raise AirflowServerError(f"{what} answered {reply.status}: {message}",
                                     airflow_status=reply.status)
        raise AirflowRejected(f"{what} answered {reply.status}: {message}", airflow_status=reply.status,
                              public="the Cloud Composer environment could not be looked up")


class ComposerTransport(HttpTransport):
    """:class:`HttpTransport` to the URL that :class:`ComposerDiscovery` finds on first use."""

    def __init__(self, config: AirflowConfig, pool: Http, auth: Auth,
                 discovery: ComposerDiscovery | None = None, *, google_pool: Http | None = None) -> None:
        super().__init__(config, pool, auth)
        assert config.composer_environment is not None
        # The Composer API is Google's, not Airflow: airflow.verify_tls never applies to it.
        self.discovery = discovery or ComposerDiscovery(config.composer_environment,
                                                        config.composer_endpoint,
                                                        google_pool if google_pool is not None else pool, auth)

    def _resolve(self, timeout: float) -> None:
        if self.config.url is None:
            # Idempotent: racing threads get the same URL from the one lookup.
            self.config = dataclasses.replace(self.config, url=self.discovery.airflow_uri(timeout))

    def request(self, method: str, path: str, body: Any, timeout: float, api: str) -> Reply:
        self._resolve(timeout)
        return super().request(method, path, body, timeout, api)

    def detect_api(self, timeout: float, api: str | None = None) -> Probe:
        self._resolve(timeout)
        return super().detect_api(timeout, api)


__all__ = ["ComposerDiscovery", "ComposerTransport", "PERMISSION_HINT"]
