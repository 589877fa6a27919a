"""The error hierarchy: each error knows its HTTP status and its public message.

Only :func:`airhook.receiver.error_response` turns an error into a response. ``detail`` is for
the log (it may name the cause); ``public`` is what the sender sees and never carries a secret, a
payload or a stack trace.
"""

from __future__ import annotations


class AirhookError(Exception):
    """Base of every error airhook raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    public: str = "internal error"
    retry_after: int | None = None

    def __init__(self, detail: str = "", *, public: str | None = None) -> None:
        super().__init__(detail or self.public)
        self.detail = detail or self.public
        if public is not None:
            self.public = public


#: Where a key is in the config document: ``("routes", 0, "when")`` is ``routes[0].when``.
KeyPath = tuple[str | int, ...]


class ConfigError(AirhookError):
    """The configuration file is invalid. Raised at instance start, never per request.

    Its location is data, for tools that point at it (``airhook check`` prints ``file:line``):
    ``path`` is the section or key the message names (``()`` when it names none), ``key`` a key
    inside it that is itself the problem (an unknown key's name), ``file`` and ``line`` are set by
    whoever read the file. ``detail`` is the message as users read it, the location in front:
    ``routes[0] (deploy).when: invalid JMESPath ...``.
    """

    code = "config_error"
    public = "airhook is misconfigured"

    def __init__(self, detail: str = "", *, path: KeyPath = (), key: str | None = None,
                 file: str | None = None, line: int | None = None, public: str | None = None) -> None:
        super().__init__(detail, public=public)
        self.path: KeyPath = tuple(path)
        self.key = key
        self.file = file
        self.line = line

    @property
    def where(self) -> KeyPath:
        """The node to point at: ``key`` inside ``path`` when the problem is a key (an unknown
        one), else ``path``."""
        return self.path + (self.key,) if self.key is not None else self.path

    def located(self, *, path: KeyPath | None = None, key: str | None = None, file: str | None = None,
                line: int | None = None, detail: str | None = None) -> ConfigError:
        """A copy with the given fields replaced: how a caller that knows more (the file, the
        line) adds it without rewriting the message."""
        return ConfigError(self.detail if detail is None else detail,
                           path=self.path if path is None else path,
                           key=self.key if key is None else key,
                           file=self.file if file is None else file,
                           line=self.line if line is None else line)


# ---------------------------------------------------------------------------- request errors (4xx)


class RequestError(AirhookError):
    status = 400
    code = "bad_request"
    public = "bad request"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"
    public = "only POST is accepted"


class UnknownSource(RequestError):
    status = 404
    code = "unknown_source"
    public = "no source is configured at this path"


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"
    public = "request body is too large"


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"
    public = "unsupported content type"


class MalformedRequest(RequestError):
    """The request is signed correctly but cannot be understood (body, headers)."""

    code = "malformed_request"
    public = "malformed request"


class VerificationError(RequestError):
    """Any failed verification. Every subclass answers the same public body, so an attacker cannot
    tell a missing signature from a wrong one; the distinct cause goes to the log only."""

    status = 401
    code = "unauthorized"
    public = "signature verification failed"


class MissingSignature(VerificationError):
    pass


class BadSignature(VerificationError):
    pass


class TimestampOutOfWindow(VerificationError):
    pass


class VerificationUnavailable(AirhookError):
    """The keys needed to verify (e.g. Google's certificates) could not be fetched: not the
    sender's fault, so it is told to retry rather than that its signature is wrong."""

    status = 503
    code = "verification_unavailable"
    public = "signature keys are unavailable; retry later"
    retry_after = 30


class DryRunForbidden(RequestError):
    """A dry run (``X-Airhook-Dry-Run``) without the deployment's operator token."""

    status = 403
    code = "dry_run_forbidden"
    public = "a dry run needs the operator token"


class RouteError(RequestError):
    """A route's expression could not be evaluated against this (verified) delivery."""

    status = 422
    code = "route_error"
    public = "a route could not be evaluated for this delivery"


# ---------------------------------------------------------------------------- Airflow errors (5xx)


class AirflowError(AirhookError):
    """Airflow did not create the run. A retry by the sender is safe: run ids are deterministic."""

    status = 502
    code = "airflow_error"
    public = "Airflow did not accept the run"
    retry_after = 30
    #: the HTTP status Airflow answered, if it answered at all
    airflow_status: int | None = None

    def __init__(self, detail: str = "", *, airflow_status: int | None = None,
                 public: str | None = None) -> None:
        super().__init__(detail, public=public)
        self.airflow_status = airflow_status


class AirflowUnavailable(AirflowError):
    """No answer: connection refused, reset, DNS failure or timeout."""

    status = 503
    code = "airflow_unavailable"
    public = "Airflow is unavailable; retry later"


class AirflowServerError(AirflowError):
    """Airflow answered 5xx."""

    status = 503
    code = "airflow_unavailable"
    public = "Airflow is unavailable; retry later"


class AirflowAuthError(AirflowError):
    """Airflow refused airhook's credentials (401/403), even after one refresh."""

    code = "airflow_auth_failed"
    public = "Airflow refused airhook's credentials"


class DagNotFound(AirflowError):
    """Airflow does not know the route's DAG: a configuration error, logged loudly."""

    code = "dag_not_found"
    public = "the route's DAG does not exist in Airflow"


class AssetNotFound(AirflowError):
    """Airflow does not know the route's asset (or dataset): a configuration error."""

    code = "asset_not_found"
    public = "the route's asset does not exist in Airflow"


class TargetNotFound(AirflowError):
    """The configured Airflow environment itself does not exist (Cloud Composer's API or MWAA's
    answered 404 for it): a configuration error, logged loudly."""

    code = "airflow_target_not_found"
    public = "the configured Airflow environment was not found"


class AirflowRejected(AirflowError):
    """Airflow answered another 4xx (400, 422, ...): the request airhook built was refused."""

    code = "airflow_rejected"
    public = "Airflow rejected the run"


# ---------------------------------------------------------------------------- queue errors (durable mode)


class QueueUnavailable(AirhookError):
    """Queue mode: Pub/Sub did not acknowledge the publish (unreachable, timeout, 5xx, refused
    credentials or permission). Answered 503 so the sender retries; a retry is safe because run ids
    are deterministic: a run published twice is still one DAG run."""

    status = 503
    code = "queue_unavailable"
    public = "the delivery queue is unavailable; retry later"
    retry_after = 10


# ---------------------------------------------------------------------------- permanent refusals


class ConfNotStorable(RouteError):
    """A route's ``conf`` holds a value that no Airflow can store (NUL, a lone surrogate) or that
    is not JSON (NaN, Infinity). Refused before triggering with the route and key: a retry would
    send the same value, so this must not look like an outage."""

    code = "conf_not_storable"
    public = "a route's conf holds a value Airflow cannot store"


class RunRefused(AirflowRejected):
    """airhook refused to send a run as built, because no Airflow could ever accept it (a conf
    value no backend can store, a path MWAA cannot carry). Permanent: retrying sends the same run,
    so queue mode dead-letters it at once instead of retrying it for the whole outage budget."""

    code = "run_refused"
    public = "the run cannot be accepted by Airflow"
