"""Load and validate the configuration file once per instance.

Every ``${NAME}`` in a string is replaced from the environment (how Secret Manager values arrive
on Cloud Functions); ``${NAME:-default}`` supplies a default, and ``$${`` is a literal ``${``.
A missing variable is a startup error that names it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .expressions import Expression, compile_expression
from .senders import Source, build_source

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
AUTH_TYPES = ("basic", "airflow-jwt", "bearer", "google", "none")
API_VERSIONS = ("v1", "v2", "auto")

# Airflow's own patterns: run ids (airflow.models.dagrun) and DAG ids (KEY_REGEX).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
DAG_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
# Names appear in URL paths and run ids.
SOURCE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ROUTE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]{1,64}$")

#: Seconds a delivery may spend reaching Airflow, retries included: under each sender's own
#: timeout (GitHub waits 10 s, Slack 3 s, Shopify 5 s, Stripe and Standard Webhooks 15-30 s), so
#: the sender hears a 503 it can act on rather than timing out itself.
DEFAULT_DEADLINES: Mapping[str, float] = MappingProxyType({
    "github": 9.0, "slack": 2.5, "shopify": 4.5, "stripe": 15.0, "standard-webhooks": 12.0,
    "gitlab": 9.0, "google-oidc": 9.0,
})
FALLBACK_DEADLINE = 9.0

_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MASK = re.compile(r"__airhook_var_(\d+)__")


@dataclass(frozen=True)
class AuthConfig:
    type: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    scopes: tuple[str, ...] = (CLOUD_PLATFORM,)

    def __repr__(self) -> str:  # credentials never reach a log or a traceback
        return f"AuthConfig(type={self.type!r}, username={self.username!r})"


@dataclass(frozen=True)
class AirflowConfig:
    url: str
    api: str = "auto"
    auth: AuthConfig = AuthConfig("none")
    timeout: float = 8.0
    #: False, True, or a CA bundle path (e.g. a private CA in front of a self-hosted Airflow)
    verify_tls: bool | str = True


@dataclass(frozen=True)
class Route:
    """A route triggers a DAG run (``dag_id``) or, instead, an asset event (``asset``: every DAG
    scheduled on that asset runs). ``conf`` holds the run's conf or the event's ``extra``."""

    name: str
    source: str
    dag_id: str | None
    events: frozenset[str] | None = None
    when: Expression | None = None
    conf: tuple[tuple[str, Expression], ...] = ()
    note: Expression | None = None
    run_id: Expression | None = None
    asset: str | None = None


@dataclass(frozen=True)
class Config:
    airflow: AirflowConfig
    sources: Mapping[str, Source]
    routes: tuple[Route, ...]
    path: str = ""
    #: per source: seconds to reach Airflow, retries included
    deadlines: Mapping[str, float] = field(default_factory=dict)

    def deadline(self, source: str) -> float:
        return self.deadlines.get(source, FALLBACK_DEADLINE)

    def routes_for(self, source: str) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.source == source)


# ------------------------------------------------------------------------------------ substitution


def substitute(document: Any, environ: Mapping[str, str]) -> Any:
    """Replace ``${NAME}`` in every string of ``document``.

    Raises:
        ConfigError: naming every variable that is missing.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _VARIABLE.sub(replace, node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return node

    result = walk(document)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise ConfigError(f"environment variable(s) not set: {names}")
    return result


def mask_variables(text: str) -> tuple[str, list[str]]:
    """Hide every ``${...}`` behind a plain token before YAML parses the text, so that
    ``auth: {type: basic, password: ${PASSWORD}}`` is valid YAML (braces are flow syntax) and a
    variable's value can never change the document's structure (it is substituted after parsing)."""
    found: list[str] = []

    def hide(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "$${"
        found.append(match.group(0))
        return f"__airhook_var_{len(found) - 1}__"

    return _VARIABLE.sub(hide, text), found


def unmask_variables(document: Any, found: list[str]) -> Any:
    """Put the ``${...}`` texts hidden by :func:`mask_variables` back into the parsed strings."""
    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _MASK.sub(lambda m: found[int(m.group(1))], node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {walk(key): walk(value) for key, value in node.items()}
        return node
    return walk(document) if found else document


# ------------------------------------------------------------------------------------ validation


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping")
    return value


def _check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                          f"expected {', '.join(allowed)}")


def _string(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: expected a non-empty string")
    return value


def _auth(raw: Any, where: str) -> AuthConfig:
    if raw is None:
        return AuthConfig("none")
    raw = _mapping(raw, where)
    kind = raw.get("type")
    if kind not in AUTH_TYPES:
        raise ConfigError(f"{where}.type: expected one of {', '.join(AUTH_TYPES)}")
    if kind in ("basic", "airflow-jwt"):
        _check_keys(raw, ("type", "username", "password"), where)
        return AuthConfig(kind, username=_string(raw, "username", where),
                          password=_string(raw, "password", where))
    if kind == "bearer":
        _check_keys(raw, ("type", "token"), where)
        return AuthConfig(kind, token=_string(raw, "token", where))
    if kind == "google":
        _check_keys(raw, ("type", "scopes"), where)
        scopes = raw.get("scopes", [CLOUD_PLATFORM])
        if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
            raise ConfigError(f"{where}.scopes: expected a list of OAuth scopes")
        return AuthConfig(kind, scopes=tuple(scopes))
    _check_keys(raw, ("type",), where)
    return AuthConfig("none")


def _airflow(raw: Any) -> AirflowConfig:
    where = "airflow"
    raw = _mapping(raw, where)
    _check_keys(raw, ("url", "api", "auth", "timeout", "verify_tls"), where)
    url = _string(raw, "url", where)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url: expected an http:// or https:// URL, got {url!r}")
    api = raw.get("api", "auto")
    if api not in API_VERSIONS:
        raise ConfigError(f"{where}.api: expected one of {', '.join(API_VERSIONS)}")
    timeout = raw.get("timeout", 8)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise ConfigError(f"{where}.timeout: expected seconds between 0 and 300")
    verify = raw.get("verify_tls", True)
    if not isinstance(verify, (bool, str)):
        raise ConfigError(f"{where}.verify_tls: expected true, false or a CA bundle path")
    return AirflowConfig(url=url.rstrip("/"), api=api, auth=_auth(raw.get("auth"), f"{where}.auth"),
                         timeout=float(timeout), verify_tls=verify)


def _sources(raw: Any) -> tuple[Mapping[str, Source], Mapping[str, float]]:
    """The sources, and each one's deadline (an option every sender type shares)."""
    raw = _mapping(raw, "sources")
    if not raw:
        raise ConfigError("sources: at least one source is required")
    sources: dict[str, Source] = {}
    deadlines: dict[str, float] = {}
    for name, spec in raw.items():
        where = f"sources.{name}"
        if not isinstance(name, str) or not SOURCE_NAME_PATTERN.match(name):
            raise ConfigError(f"{where}: a source name must match {SOURCE_NAME_PATTERN.pattern} "
                              "(it is the URL path)")
        spec = dict(_mapping(spec, where))
        deadline = spec.pop("deadline", DEFAULT_DEADLINES.get(spec.get("type", ""), FALLBACK_DEADLINE))
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0 < deadline <= 600:
            raise ConfigError(f"{where}.deadline: expected seconds between 0 and 600")
        sources[name] = build_source(name, spec, where)
        deadlines[name] = float(deadline)
    return MappingProxyType(sources), MappingProxyType(deadlines)


def _route(raw: Any, index: int, sources: Mapping[str, Source]) -> Route:
    where = f"routes[{index}]"
    raw = _mapping(raw, where)
    name = raw.get("name")
    if isinstance(name, str):
        where = f"routes[{index}] ({name})"
    _check_keys(raw, ("name", "source", "events", "when", "dag_id", "conf", "note", "run_id",
                      "asset", "extra"), where)
    if not isinstance(name, str) or not ROUTE_NAME_PATTERN.match(name):
        raise ConfigError(f"{where}.name: expected a name matching {ROUTE_NAME_PATTERN.pattern}")
    source = _string(raw, "source", where)
    if source not in sources:
        raise ConfigError(f"{where}.source: no source named {source!r} "
                          f"(configured: {', '.join(sources)})")
    if ("dag_id" in raw) == ("asset" in raw):
        raise ConfigError(f"{where}: give either dag_id (a DAG run) or asset (an asset event)")
    dag_id = asset = None
    if "dag_id" in raw:
        dag_id = _string(raw, "dag_id", where)
        assert dag_id is not None
        if not DAG_ID_PATTERN.match(dag_id):
            raise ConfigError(f"{where}.dag_id: {dag_id!r} is not a valid Airflow DAG id")
        if "extra" in raw:
            raise ConfigError(f"{where}.extra: only for asset routes; a DAG run takes conf")
        payload_key = "conf"
    else:
        asset = _string(raw, "asset", where)
        for key in ("conf", "note"):
            if key in raw:
                raise ConfigError(f"{where}.{key}: not for asset routes; an asset event takes extra")
        payload_key = "extra"
    events = raw.get("events")
    if events is not None:
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list) or not events or not all(isinstance(e, str) and e for e in events):
            raise ConfigError(f"{where}.events: expected a non-empty list of event names")
        events = frozenset(events)
    conf_raw = _mapping(raw.get(payload_key) or {}, f"{where}.{payload_key}")
    conf = tuple((str(key), compile_expression(expr, f"{where}.{payload_key}.{key}"))
                 for key, expr in conf_raw.items())

    def optional(key: str) -> Expression | None:
        return compile_expression(raw[key], f"{where}.{key}") if raw.get(key) is not None else None

    return Route(name=name, source=source, dag_id=dag_id, asset=asset, events=events, when=optional("when"),
                 conf=conf, note=optional("note"), run_id=optional("run_id"))


def parse(document: Any, environ: Mapping[str, str], path: str = "") -> Config:
    """Validate a parsed YAML document into a Config.

    Raises:
        ConfigError: the first problem found, located as ``section.key``.
    """
    if not isinstance(document, dict):
        raise ConfigError("the configuration must be a mapping with airflow, sources and routes")
    _check_keys(document, ("airflow", "sources", "routes"), "top level")
    for section in ("airflow", "sources", "routes"):
        if section not in document:
            raise ConfigError(f"missing section '{section}'")
    document = substitute(document, environ)
    airflow = _airflow(document["airflow"])
    sources, deadlines = _sources(document["sources"])
    routes_raw = document["routes"]
    if not isinstance(routes_raw, list):
        raise ConfigError("routes: expected a list")
    routes = tuple(_route(raw, i, sources) for i, raw in enumerate(routes_raw))
    seen: set[str] = set()
    for route in routes:
        if route.name in seen:
            raise ConfigError(f"routes: duplicate route name {route.name!r}")
        seen.add(route.name)
    return Config(airflow=airflow, sources=sources, routes=routes, path=path, deadlines=deadlines)


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and validate the file at ``path``."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    masked, found = mask_variables(text)
    try:
        document = unmask_variables(yaml.safe_load(masked), found)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    try:
        return parse(document, environ, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.detail}") from None


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$AIRHOOK_CONFIG``, else ``airhook.yaml`` next to ``main.py`` (the working directory on
    Cloud Functions)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("AIRHOOK_CONFIG") or "airhook.yaml")
