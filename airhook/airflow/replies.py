"""What Airflow's answers mean: the typed error for a non-success reply, and a short reason for
the log. Shared by every transport (HTTP, Cloud Composer, MWAA) and by the client."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import AirflowAuthError, AirflowError, AirflowRejected, AirflowServerError, DagNotFound
from ..httpconn import Reply

_FORBIDDEN_HINT = {
    "google": "the function's service account needs an Airflow role that may create DAG runs "
              "(Composer: register it as an Airflow user with the Op role, or grant "
              "roles/composer.user plus the Airflow role on Composer 3)",
    "airflow-jwt": "the Airflow user needs a role that may trigger DAGs (e.g. Op or Admin)",
    "basic": "the Airflow user needs a role that may trigger DAGs (e.g. Op or Admin)",
    "bearer": "the token's role may not trigger DAGs (Astronomer: a Deployment/Workspace token "
              "with the Operator role or higher)",
    "mwaa": "the IAM identity needs airflow:InvokeRestApi on the environment and an Airflow role "
            "that may trigger DAGs",
}


_SIGN_IN_HINT = {
    "google": "the function's service account was not accepted (Composer: it needs "
              "roles/composer.user and an Airflow role)",
    "none": "the URL is behind a front end that wants credentials: set airflow.auth "
            "(Cloud Composer: type google)",
}


def reason(reply: Reply) -> str:
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


def redact(url: str) -> str:
    """``url`` without userinfo (a password in ``airflow.url``) or query (tokens, return URLs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{host}{parts.path}"


def classify(reply: Reply, what: str, auth_type: str) -> AirflowError:
    """The typed error for a non-success answer from Airflow."""
    status = reply.status
    if 300 <= status < 400:
        # No redirect is followed (airhook.httpconn): a front end sending us to its sign-in page
        # (Composer's, an OAuth proxy's) means our credentials were missing or refused, not "no
        # API here".
        where = redact(reply.headers.get("location", "")) or "another page"
        hint = _SIGN_IN_HINT.get(auth_type, "the front end refused the configured credentials")
        return AirflowAuthError(f"{what} was redirected ({status}) to {where}, a sign-in page: {hint}",
                                airflow_status=status)
    why = reason(reply)
    if status == 401:
        return AirflowAuthError(f"Airflow answered 401 to {what}: {why}", airflow_status=status)
    if status == 403:
        hint = _FORBIDDEN_HINT.get(auth_type, "")
        return AirflowAuthError(f"Airflow answered 403 to {what}: {why}; {hint}", airflow_status=status)
    if status == 404:
        return DagNotFound(f"{what}: not found in Airflow: {why}", airflow_status=status)
    if status in (408, 429):  # a timeout or load: worth retrying
        return AirflowServerError(f"Airflow answered {status} to {what}", airflow_status=status)
    if status >= 500:
        return AirflowServerError(f"Airflow answered {status} to {what}: {why}", airflow_status=status)
    return AirflowRejected(f"Airflow answered {status} to {what}: {why}", airflow_status=status)


__all__ = ["classify", "reason", "redact"]
