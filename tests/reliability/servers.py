"""The production server for the load and fault suites, configured as in production (secrets and
Airflow credentials arrive as environment variables), and the log scan every suite applies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tools.function_server import FunctionServer

from . import figures
from .loadgen import LOAD_CANARY
from .profiles import PROFILES, Profile, all_leak_strings, config_document

#: Anything shaped like a JWT, a bearer or basic credential, or a PEM block.
CREDENTIAL_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/=]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)


def airhook_server(airflow: Any, names: tuple[str, ...], *, suite: str, deadline: float | None = None,
                   url: str | None = None, delivery: Mapping[str, Any] | None = None,
                   target: str = "receive", env: Mapping[str, str] | None = None) -> FunctionServer:
    """A FunctionServer for ``names`` (profiles), triggering ``reliability_sink`` on ``airflow``
    (an AirflowServer; ``url`` overrides its URL, e.g. a proxy) with the airflow-jwt auth;
    ``delivery`` is the config's delivery section (queue mode), ``target`` the function."""
    profiles: dict[str, Profile] = {n: PROFILES[n] for n in names}
    document = config_document(profiles, airflow_url=url or airflow.url)
    extra_env = dict(env or {})
    env = {"AIRFLOW_USER": airflow.username, "AIRFLOW_PASSWORD": airflow.password, **extra_env}
    document["airflow"] = {"url": url or airflow.url, "api": "v2", "timeout": 8,
                           "auth": {"type": "airflow-jwt", "username": "${AIRFLOW_USER}",
                                    "password": "${AIRFLOW_PASSWORD}"}}
    for i, source in enumerate(document["sources"].values()):
        for key in ("secrets", "tokens", "signing_tokens"):
            if key in source:
                names_ = []
                for j, value in enumerate(source[key]):
                    env[f"RELIABILITY_SECRET_{i}_{j}"] = value
                    names_.append(f"${{RELIABILITY_SECRET_{i}_{j}}}")
                source[key] = names_
        if deadline is not None:
            source["deadline"] = deadline
    if delivery is not None:
        document["delivery"] = dict(delivery)
    server = FunctionServer(json.dumps(document, indent=1), env, target=target)
    figures.register_log(suite, f"function server {target} ({', '.join(names)})", server.log_path)
    return server


def scan(text: str, extra: Mapping[str, str] | None = None, *, secrets_only: bool = False) -> list[str]:
    """What in ``text`` must not be there: configured secrets, credential-shaped strings, payload
    canaries, the ``extra`` strings (label -> value), and (unless ``secrets_only``) tracebacks
    and 500s."""
    found = [f"secret {s[:6]}..." for s in all_leak_strings() if s in text]
    found += [f"credential-shaped {p.pattern[:20]!r}" for p in CREDENTIAL_PATTERNS if p.search(text)]
    found += [f"{label}" for label, value in {"load canary": LOAD_CANARY, **(extra or {})}.items()
              if value and value in text]
    if not secrets_only:
        found += [marker for marker in ("Traceback", '"status":500', '"internal_error"') if marker in text]
    return found
