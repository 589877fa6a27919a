"""Load and validate the configuration file once per instance.

Every ``${NAME}`` in a string is replaced from the environment (how Secret Manager values arrive
on Cloud Functions); ``${NAME:-default}`` supplies a default, and ``$${`` is a literal ``${``.
A missing variable is a startup error that names it, and no error ever repeats a value that came
from a variable (it may be a secret): it names the key and the variable instead.

``AIRHOOK_ROLE`` (``all``, the default; ``receive``; ``deliver``) says which function of a queue-mode
deployment this instance is, so that each reads, and needs, only its own secrets: ``receive`` never
substitutes the ``airflow`` section (Airflow's credentials), ``deliver`` never the ``sources``
section (the webhook secrets).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import (
    Any,
    Literal,
    TypeAlias,
    get_args,
    overload,
)

import yaml

from .errors import ConfigError, KeyPath
from .expressions import Expression, compile_expression
from .responses import DEFAULT_DISCLOSURE, Disclosure, disclosure_option
from .senders import Source, build_source, default_deadline
from .senders.google_oidc import GOOGLE_CERTS_URL
from .senders.options import strings_option

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
#: ``airflow.auth.type``: how airhook authenticates to Airflow (docs/configuration.md).
AuthType: TypeAlias = Literal["basic", "airflow-jwt", "bearer", "google", "mwaa", "none"]
AUTH_TYPES: tuple[AuthType, ...] = get_args(AuthType)
#: ``airflow.api``: Airflow 2's /api/v1, Airflow 3's /api/v2, or ``auto`` (asked on first use).
ApiVersion: TypeAlias = Literal["v1", "v2", "auto"]
API_VERSIONS: tuple[ApiVersion, ...] = get_args(ApiVersion)

# Airflow's own patterns: run ids (airflow.models.dagrun) and DAG ids (KEY_REGEX), minus ids made
# of dots only: both go into URL paths (/dags/{dag_id}/dagRuns/{run_id}), where ``.`` and ``..``
# are path segments that name another resource, not an id.
# ``\Z``, not ``$``: ``$`` also matches before a trailing newline.
RUN_ID_PATTERN = re.compile(r"^(?!\.+\Z)[A-Za-z0-9_.~:+-]+\Z")
DAG_ID_PATTERN = re.compile(r"^(?!\.+\Z)[A-Za-z0-9_.-]{1,250}\Z")
# Names appear in URL paths and run ids.
SOURCE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
ROUTE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]{1,64}\Z")
# Targets: a Cloud Composer environment's resource name; MWAA's environment names (its API model)
# and AWS region names.
COMPOSER_ENVIRONMENT_PATTERN = re.compile(r"^projects/[^/\s]+/locations/[^/\s]+/environments/[^/\s]+\Z")
DEFAULT_COMPOSER_ENDPOINT = "https://composer.googleapis.com"
MWAA_NAME_PATTERN = re.compile(r"^[A-Za-z][0-9A-Za-z_-]{0,79}\Z")
AWS_REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+\Z")

#: Seconds a delivery may spend reaching Airflow, retries included, unless a source sets
#: ``deadline:``: each type's ``SENDER.deadline``, under the sender's own timeout (GitHub waits
#: 10 s, Slack 3 s, Shopify 5 s, Stripe and Standard Webhooks 15-30 s), so the sender hears a 503
#: it can act on rather than timing out itself (see airhook.senders.default_deadline).
FALLBACK_DEADLINE = 9.0

#: ``delivery.mode``: ``direct`` (receive triggers) or ``queue`` (receive publishes, deliver triggers).
DeliveryMode: TypeAlias = Literal["direct", "queue"]
DELIVERY_MODES: tuple[DeliveryMode, ...] = get_args(DeliveryMode)
#: ``AIRHOOK_ROLE``: which function of a queue-mode deployment this instance is.
Role: TypeAlias = Literal["all", "receive", "deliver"]
ROLES: tuple[Role, ...] = get_args(Role)

_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MASK = re.compile(r"__airhook_var_(\d+)__")


@dataclass(frozen=True)
class AuthConfig:
    type: AuthType
    username: str | None = None
    password: str | None = None
    token: str | None = None
    scopes: tuple[str, ...] = (CLOUD_PLATFORM,)
    #: mwaa: the environment's name, its AWS region, and (tests, private endpoints) the API URL
    environment: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    def __repr__(self) -> str:  # credentials never reach a log or a traceback
        return f"AuthConfig(type={self.type!r}, username={self.username!r})"


@dataclass(frozen=True)
class AirflowConfig:
    #: None only for MWAA (reached through its API) and for Cloud Composer with
    #: ``composer_environment`` (the URL is discovered on first use)
    url: str | None = None
    api: ApiVersion = "auto"
    auth: AuthConfig = AuthConfig("none")
    timeout: float = 8.0
    #: False, True, or a CA bundle path (e.g. a private CA in front of a self-hosted Airflow)
    verify_tls: bool | str = True
    #: Cloud Composer: ``projects/P/locations/L/environments/E``, whose ``config.airflowUri`` is
    #: the URL when ``url`` is not given; the Composer API's root (a stand-in in tests)
    composer_environment: str | None = None
    composer_endpoint: str = DEFAULT_COMPOSER_ENDPOINT


@dataclass(frozen=True)
class DagTarget:
    """A route's ``dag_id``: each match creates one run of this DAG (POST /dags/{dag_id}/dagRuns)."""

    dag_id: str


@dataclass(frozen=True)
class AssetTarget:
    """A route's ``asset``: each match creates one asset event (POST /assets/events on Airflow 3,
    /datasets/events on Airflow 2), and every DAG scheduled on that asset runs."""

    asset: str


#: What a route triggers: a DAG run or an asset event, never both or neither.
Target: TypeAlias = DagTarget | AssetTarget


@dataclass(frozen=True)
class Route:
    """A route triggers a DAG run (:class:`DagTarget`) or, instead, an asset event
    (:class:`AssetTarget`). ``conf`` holds the run's conf or the event's ``extra``."""

    name: str
    source: str
    target: Target
    events: frozenset[str] | None = None
    when: Expression | None = None
    conf: tuple[tuple[str, Expression], ...] = ()
    note: Expression | None = None
    run_id: Expression | None = None

    # Views for callers that only compare or show the target; code that acts on it matches on
    # ``target`` (its type says which of the two it is).
    @property
    def dag_id(self) -> str | None:
        return self.target.dag_id if isinstance(self.target, DagTarget) else None

    @property
    def asset(self) -> str | None:
        return self.target.asset if isinstance(self.target, AssetTarget) else None


@dataclass(frozen=True)
class PushAuth:
    """``delivery.push``: who may push to ``deliver``. Pub/Sub push subscriptions send
    ``Authorization: Bearer <Google-signed ID token>`` for their ``oidcToken.serviceAccountEmail``
    with ``oidcToken.audience`` (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions);
    ``deliver`` checks both in code, whatever the service's IAM lets through."""

    audiences: tuple[str, ...]
    service_accounts: frozenset[str]
    #: Google's certificates; tests serve their own on loopback
    certs_url: str = GOOGLE_CERTS_URL
    clock_skew: int = 10


@dataclass(frozen=True)
class DeliveryConfig:
    """``delivery``: how a routed delivery reaches Airflow (docs/durable-mode.md).

    ``direct``: ``receive`` triggers the runs before it answers. ``queue``: ``receive`` publishes
    one message per run to ``topic`` and answers 202; the ``deliver`` function triggers them.
    """

    mode: DeliveryMode = "direct"
    topic: str | None = None
    #: where ``deliver`` puts runs Airflow refused for good (and runs out of retry budget)
    dead_letter_topic: str | None = None
    #: seconds ``receive`` waits for Pub/Sub to acknowledge a publish, retries included
    publish_timeout: float = 5.0
    #: hours a transient failure (Airflow down, 5xx, 429, refused credentials) is retried, counted
    #: from the moment ``receive`` accepted the delivery; then the run is dead-lettered
    retry_hours: float = 72.0
    #: the push subscription's deadLetterPolicy.maxDeliveryAttempts and retryPolicy.minimumBackoff:
    #: ``deliver`` republishes a failing message before Pub/Sub would dead-letter it
    max_delivery_attempts: int = 5
    minimum_backoff: float = 10.0
    #: queue mode: HMAC keys for the messages ``receive`` publishes; the first signs, any
    #: verifies (rotation). Only ``receive``, ``deliver`` and ``redrive`` hold them.
    signing_keys: tuple[bytes, ...] = field(default=(), repr=False)
    #: queue mode, ``deliver``: the push's OIDC token must match this
    push: PushAuth | None = None


@dataclass(frozen=True)
class Config:
    airflow: AirflowConfig
    sources: Mapping[str, Source]
    routes: tuple[Route, ...]
    path: str = ""
    #: per source: seconds to reach Airflow, retries included
    deadlines: Mapping[str, float] = field(default_factory=dict)
    delivery: DeliveryConfig = DeliveryConfig()
    #: per source: how much its answers reveal (``response:``, airhook/responses.py)
    disclosures: Mapping[str, Disclosure] = field(default_factory=dict)
    #: ``AIRHOOK_ROLE``: ``all``, ``receive`` (no Airflow section) or ``deliver`` (no sources)
    role: Role = "all"

    def deadline(self, source: str) -> float:
        return self.deadlines.get(source, FALLBACK_DEADLINE)

    def disclosure(self, source: str) -> Disclosure:
        return self.disclosures.get(source, DEFAULT_DISCLOSURE)

    def routes_for(self, source: str) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.source == source)


# ------------------------------------------------------------------------------------ substitution


def expand(text: str, environ: Mapping[str, str], unset: Callable[[str], str]) -> str:
    """Replace every ``${NAME}`` / ``${NAME:-default}`` in ``text`` (``$${`` is a literal
    ``${``); ``unset(name)`` gives the text for a variable that is not set and has no default."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        return default if default is not None else unset(name)
    return _VARIABLE.sub(replace, text)


def substitute(document: Any, environ: Mapping[str, str],
               used: dict[str, str] | None = None) -> Any:
    """Replace ``${NAME}`` in every string of ``document``; ``used`` (if given) collects each
    variable's value by name, so that errors can be scrubbed of them (:func:`scrub`).

    Raises:
        ConfigError: naming every variable that is missing.
    """
    missing: list[str] = []

    def unset(name: str) -> str:
        missing.append(name)
        return ""

    def seen(match: re.Match[str]) -> None:
        name = match.group(1)
        if used is not None and name is not None and name in environ:
            used[name] = environ[name]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            for match in _VARIABLE.finditer(node):
                seen(match)
            return expand(node, environ, unset)
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


#: Values this short are scrubbed only where an error quotes them (``'v2'``): replacing every
#: occurrence of ``8`` or ``v2`` in a message would garble it, and such values are no secrets.
_SHORT = 4


def scrub(text: str, used: Mapping[str, str]) -> str:
    """``text`` with every value that came from a variable replaced by ``${NAME}``: a config
    error names the key and the variable, never what the variable holds (it may be a secret)."""
    for name, value in sorted(used.items(), key=lambda item: -len(item[1])):
        if not value:
            continue
        if len(value) >= _SHORT:
            text = text.replace(value, f"${{{name}}}")
        else:
            for quoted in (repr(value), f'"{value}"'):
                text = text.replace(quoted, f"'${{{name}}}'")
    return text


_LOCATION_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\](?: \([^)]*\))?")


def _name_variables(detail: str, raw: Mapping[str, Any]) -> str:
    """``detail`` plus the variable(s) its key came from, when the error does not name one:
    ``airflow.api: expected one of v1, v2, auto (from ${AIRFLOW_API})``."""
    if "${" in detail:
        return detail
    location, colon, _ = detail.partition(": ")
    node: Any = raw
    position = 0
    while colon and position < len(location):
        match = _LOCATION_PART.match(location, position)
        if match is None:
            return detail
        name, index = match.group(1), match.group(2)
        if name is not None and isinstance(node, dict) and name in node:
            node = node[name]
        elif index is not None and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return detail
        position = match.end()
    names = [m.group(0) for m in _VARIABLE.finditer(node)] if colon and isinstance(node, str) else []
    names = [n for n in names if n != "$${"]
    return f"{detail} (from {', '.join(names)})" if names else detail


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


@overload
def _string(raw: Mapping[str, Any], key: str, where: str, *, required: Literal[True] = True) -> str: ...
@overload
def _string(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None: ...
def _string(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: expected a non-empty string")
    return value


def _http_url(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    url = _string(raw, key, where, required=required)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.{key}: expected an http:// or https:// URL, got {url!r}")
    return None if url is None else url.rstrip("/")


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
    if kind == "mwaa":
        _check_keys(raw, ("type", "environment", "region", "endpoint_url"), where)
        environment = _string(raw, "environment", where)
        if not MWAA_NAME_PATTERN.match(environment):
            raise ConfigError(f"{where}.environment: {environment!r} is not an MWAA environment name")
        region = _string(raw, "region", where)
        if not AWS_REGION_PATTERN.match(region):
            raise ConfigError(f"{where}.region: expected an AWS region such as us-east-1, got {region!r}")
        return AuthConfig(kind, environment=environment, region=region,
                          endpoint_url=_http_url(raw, "endpoint_url", where, required=False))
    _check_keys(raw, ("type",), where)
    return AuthConfig("none")


def _airflow(raw: Any) -> AirflowConfig:
    where = "airflow"
    raw = _mapping(raw, where)
    _check_keys(raw, ("url", "api", "auth", "timeout", "verify_tls", "composer_environment",
                      "composer_endpoint"), where)
    url = _http_url(raw, "url", where, required=False)
    api = raw.get("api", "auto")
    if api not in API_VERSIONS:
        raise ConfigError(f"{where}.api: expected one of {', '.join(API_VERSIONS)}")
    timeout = raw.get("timeout", 8)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise ConfigError(f"{where}.timeout: expected seconds between 0 and 300")
    verify = raw.get("verify_tls", True)
    if not isinstance(verify, (bool, str)):
        raise ConfigError(f"{where}.verify_tls: expected true, false or a CA bundle path")
    auth = _auth(raw.get("auth"), f"{where}.auth")
    environment = _string(raw, "composer_environment", where, required=False)
    if environment is not None and not COMPOSER_ENVIRONMENT_PATTERN.match(environment):
        raise ConfigError(f"{where}.composer_environment: expected "
                          f"projects/PROJECT/locations/REGION/environments/NAME, got {environment!r}")
    endpoint = _http_url(raw, "composer_endpoint", where, required=False)
    if auth.type == "mwaa":
        for key in ("url", "composer_environment", "composer_endpoint"):
            if raw.get(key) is not None:
                raise ConfigError(f"{where}.{key}: not used with auth type mwaa (MWAA is reached "
                                  "through its InvokeRestApi API: name the environment in auth)")
    elif environment is not None:
        if auth.type != "google":
            raise ConfigError(f"{where}.composer_environment: Cloud Composer needs auth: {{type: google}}")
    elif url is None:
        raise ConfigError(f"{where}.url: expected a non-empty string (or composer_environment for "
                          "Cloud Composer, or auth type mwaa)")
    if endpoint is not None and environment is None:
        raise ConfigError(f"{where}.composer_endpoint: only used with composer_environment")
    return AirflowConfig(url=url, api=api, auth=auth, timeout=float(timeout), verify_tls=verify,
                         composer_environment=environment,
                         composer_endpoint=endpoint or DEFAULT_COMPOSER_ENDPOINT)


def _sources(raw: Any) -> tuple[Mapping[str, Source], Mapping[str, float], Mapping[str, Disclosure]]:
    """The sources, and each one's deadline and response disclosure (options every sender type
    shares)."""
    raw = _mapping(raw, "sources")
    if not raw:
        raise ConfigError("sources: at least one source is required")
    sources: dict[str, Source] = {}
    deadlines: dict[str, float] = {}
    disclosures: dict[str, Disclosure] = {}
    for name, spec in raw.items():
        where = f"sources.{name}"
        if not isinstance(name, str) or not SOURCE_NAME_PATTERN.match(name):
            raise ConfigError(f"{where}: a source name must match {SOURCE_NAME_PATTERN.pattern} "
                              "(it is the URL path)")
        spec = dict(_mapping(spec, where))
        deadline = spec.pop("deadline", default_deadline(spec.get("type")))
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0 < deadline <= 600:
            raise ConfigError(f"{where}.deadline: expected seconds between 0 and 600")
        disclosures[name] = disclosure_option(spec.pop("response", DEFAULT_DISCLOSURE), where)
        sources[name] = build_source(name, spec, where)
        deadlines[name] = float(deadline)
    return MappingProxyType(sources), MappingProxyType(deadlines), MappingProxyType(disclosures)


def _route(raw: Any, index: int, sources: Collection[str]) -> Route:
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
    target: Target
    if "dag_id" in raw:
        dag_id = _string(raw, "dag_id", where)
        if not DAG_ID_PATTERN.match(dag_id):
            raise ConfigError(f"{where}.dag_id: {dag_id!r} is not a valid Airflow DAG id")
        if "extra" in raw:
            raise ConfigError(f"{where}.extra: only for asset routes; a DAG run takes conf")
        payload_key = "conf"
        target = DagTarget(dag_id)
    else:
        target = AssetTarget(_string(raw, "asset", where))
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

    return Route(name=name, source=source, target=target, events=events, when=optional("when"),
                 conf=conf, note=optional("note"), run_id=optional("run_id"))


ROLE_VARIABLE = "AIRHOOK_ROLE"
# projects/P/topics/T: Pub/Sub's topic names are 3-255 characters and start with a letter.
TOPIC_PATTERN = re.compile(r"^projects/[^/\s]+/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}\Z")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s?\s*$")


def _number(raw: Mapping[str, Any], key: str, where: str, default: float, low: float, high: float,
            *, duration: bool = False) -> float:
    """A number in (low, high]. Numeric strings are accepted because these values usually arrive
    through ``${VAR}`` (Terraform passes them as environment variables), and durations may carry
    Pub/Sub's ``s`` suffix (``10s``)."""
    value = raw.get(key, default)
    if isinstance(value, str) and (match := _DURATION.match(value)) and (duration or "s" not in value):
        value = float(match.group(1))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        unit = "seconds" if duration else "a number"
        raise ConfigError(f"{where}.{key}: expected {unit} above {low:g} and at most {high:g}")
    return float(value)


def _delivery(raw: Any, role: Role = "all") -> DeliveryConfig:
    where = "delivery"
    if raw is None:
        return DeliveryConfig()
    raw = _mapping(raw, where)
    _check_keys(raw, ("mode", "topic", "dead_letter_topic", "publish_timeout", "retry_hours",
                      "max_delivery_attempts", "minimum_backoff", "signing_keys", "push"), where)
    mode = raw.get("mode", "direct")
    if mode not in DELIVERY_MODES:
        raise ConfigError(f"{where}.mode: expected one of {', '.join(DELIVERY_MODES)}")
    topics: dict[str, str | None] = {}
    for key in ("topic", "dead_letter_topic"):
        topic = _string(raw, key, where, required=mode == "queue")
        if topic is not None and not TOPIC_PATTERN.match(topic):
            raise ConfigError(f"{where}.{key}: expected projects/PROJECT/topics/TOPIC, got {topic!r}")
        topics[key] = topic
    if topics["topic"] is not None and topics["topic"] == topics["dead_letter_topic"]:
        raise ConfigError(f"{where}.dead_letter_topic: must differ from {where}.topic")
    attempts = _number(raw, "max_delivery_attempts", where, 5, 4, 100)
    if attempts != int(attempts):
        raise ConfigError(f"{where}.max_delivery_attempts: expected a whole number from 5 to 100")
    keys: tuple[bytes, ...] = ()
    push: PushAuth | None = None
    if mode == "queue":
        keys = _signing_keys(raw, where)
        if role in ("all", "deliver"):
            push = _push(raw.get("push"), f"{where}.push")
    return DeliveryConfig(
        mode=mode, topic=topics["topic"], dead_letter_topic=topics["dead_letter_topic"],
        publish_timeout=_number(raw, "publish_timeout", where, 5.0, 0, 60, duration=True),
        retry_hours=_number(raw, "retry_hours", where, 72.0, 0, 24 * 365),
        max_delivery_attempts=int(attempts),
        minimum_backoff=_number(raw, "minimum_backoff", where, 10.0, 0, 600, duration=True),
        signing_keys=keys, push=push)


#: A message-signing key is a random secret, not a password: at least 32 bytes
#: (``openssl rand -base64 32`` gives 44 characters).
MIN_SIGNING_KEY_BYTES = 32


def _signing_keys(raw: Mapping[str, Any], where: str) -> tuple[bytes, ...]:
    """The keys, as webhook secrets rotate: ``["${KEY}", "${KEY_PREVIOUS:-}"]``; empty ones are
    dropped, at least one must remain, and each is long enough not to be guessed."""
    value = raw.get("signing_keys")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.signing_keys: required in queue mode: a list of keys (the first "
                          "signs, any verifies), e.g. [\"${AIRHOOK_SIGNING_KEY}\"]")
    keys = tuple(v.encode("utf-8") for v in value if v)
    if not keys:
        raise ConfigError(f"{where}.signing_keys: at least one non-empty key is required")
    if any(len(k) < MIN_SIGNING_KEY_BYTES for k in keys):
        raise ConfigError(f"{where}.signing_keys: each key needs at least {MIN_SIGNING_KEY_BYTES} "
                          "bytes (openssl rand -base64 32)")
    return keys


def _push(raw: Any, where: str) -> PushAuth:
    from .senders.google_oidc import (
        _certs_url,  # the google-oidc sender's rule: https, or loopback
    )

    if raw is None:
        raise ConfigError(f"{where}: required where deliver runs in queue mode: "
                          "{audience: ..., service_accounts: [...]} of the push subscription's OIDC token")
    raw = _mapping(raw, where)
    _check_keys(raw, ("audience", "service_accounts", "certs_url", "clock_skew"), where)
    skew = raw.get("clock_skew", 10)
    if isinstance(skew, str) and skew.isdigit():
        skew = int(skew)
    if isinstance(skew, bool) or not isinstance(skew, int) or not 0 <= skew <= 300:
        raise ConfigError(f"{where}.clock_skew: expected seconds from 0 to 300")
    return PushAuth(audiences=strings_option(raw, "audience", where),
                    service_accounts=frozenset(e.lower() for e in strings_option(raw, "service_accounts", where)),
                    certs_url=_certs_url(raw, where), clock_skew=skew)


def parse(document: Any, environ: Mapping[str, str], path: str = "") -> Config:
    """Validate a parsed YAML document into a Config.

    Raises:
        ConfigError: the first problem found, located as ``section.key`` in its message and as
            data (``path``, ``key``; ``file`` is ``path``).
    """
    try:
        return _parse(document, environ, path)
    except ConfigError as exc:
        raise locate(exc).located(file=path or None) from None


def _parse(document: Any, environ: Mapping[str, str], path: str) -> Config:
    if not isinstance(document, dict):
        raise ConfigError("the configuration must be a mapping with airflow, sources and routes")
    _check_keys(document, ("airflow", "sources", "routes", "delivery"), "top level")
    for section in ("airflow", "sources", "routes"):
        if section not in document:
            raise ConfigError(f"missing section '{section}'")
    named = environ.get(ROLE_VARIABLE) or "all"
    if named not in ROLES:
        raise ConfigError(f"{ROLE_VARIABLE}: expected one of {', '.join(ROLES)}")
    role = ROLES[ROLES.index(named)]  # the same text, typed as a Role
    # The other role's section is neither substituted nor built: its variables need not be set,
    # and this instance never holds its secrets.
    skipped = {"receive": "airflow", "deliver": "sources"}.get(role)
    raw = document
    kept = {key: value for key, value in document.items() if key != skipped}
    if role == "receive" and isinstance(kept.get("delivery"), dict):
        kept["delivery"] = {k: v for k, v in kept["delivery"].items() if k != "push"}  # deliver's
    used: dict[str, str] = {}
    document = {**document, **substitute(kept, environ, used)}
    try:
        return _validate(document, role, path)
    except ConfigError as exc:
        exc = locate(exc)  # before scrubbing: a variable's value may look like a key
        raise exc.located(detail=_name_variables(scrub(exc.detail, used), raw)) from None


def _validate(document: Mapping[str, Any], role: Role, path: str) -> Config:
    delivery = _delivery(document.get("delivery"), role)
    if role != "all" and delivery.mode != "queue":
        raise ConfigError(f"{ROLE_VARIABLE}={role}: only for delivery.mode: queue (in direct mode "
                          "one function receives and triggers)")
    airflow = AirflowConfig() if role == "receive" else _airflow(document["airflow"])
    if role == "deliver":
        # Routes name their source; deliver checks a message's (route, DAG) pair, never a signature.
        names = _mapping(document["sources"], "sources")
        sources: Mapping[str, Source] = MappingProxyType({})
        deadlines: Mapping[str, float] = MappingProxyType({})
        disclosures: Mapping[str, Disclosure] = MappingProxyType({})
    else:
        sources, deadlines, disclosures = _sources(document["sources"])
        names = dict(sources)
    routes_raw = document["routes"]
    if not isinstance(routes_raw, list):
        raise ConfigError("routes: expected a list")
    routes = tuple(_route(raw, i, names) for i, raw in enumerate(routes_raw))
    seen: set[str] = set()
    for route in routes:
        if route.name in seen:
            raise ConfigError(f"routes: duplicate route name {route.name!r}")
        seen.add(route.name)
    return Config(airflow=airflow, sources=sources, routes=routes, path=path, deadlines=deadlines,
                  delivery=delivery, role=role, disclosures=disclosures)


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and validate the file at ``path``.

    Raises:
        ConfigError: unreadable, not YAML, or the first problem (as :func:`parse`), the file's
            path in front of the message.
    """
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
        raise exc.located(detail=f"{path}: {exc.detail}") from None


# ------------------------------------------------------------------------------------ every problem


SECTIONS = ("airflow", "sources", "routes", "delivery")
REQUIRED_SECTIONS = ("airflow", "sources", "routes")


def problems(document: Any, path: str = "", *, line_of: Callable[[KeyPath], int] | None = None,
             ignore: Callable[[KeyPath], bool] | None = None) -> list[ConfigError]:
    """Every problem in ``document``, not just the first: what :func:`parse` refuses, checked one
    section, one source and one route at a time so that one mistake does not hide the next (the
    ``airhook check`` command; the function itself calls :func:`parse`, which stops at the first).

    ``document`` is taken as it is: its variables already substituted (as ``parse`` substitutes
    them with an empty environment, when every step passes, to make sure that it agrees).

    Args:
        path: the file's name, set as each error's ``file``.
        line_of: the line of a key path in the file, when known: sets each error's ``line`` (and
            a duplicate route name says where the first one is).
        ignore: leaves out a section's, source's or route's problem whose ``path`` it is true
            for (``airhook check``: one that only follows from the stand-in for a variable
            that is not set, which it reports itself).

    Returns:
        The problems in the order they were found, each located as data (``path``, ``key``,
        ``file``, ``line``); empty when ``parse`` accepts the document.
    """
    found: list[ConfigError] = []

    def add(error: ConfigError) -> None:
        error = locate(error)
        line = line_of(error.where) if line_of is not None else None
        found.append(error.located(file=path or None, line=line))

    def attempt(step: Callable[..., Any], *args: Any) -> None:
        try:
            step(*args)
        except ConfigError as exc:
            exc = locate(exc)
            if not (ignore is not None and exc.path and ignore(exc.path)):
                add(exc)

    if not isinstance(document, dict):
        add(ConfigError("the configuration must be a mapping with airflow, sources and routes"))
        return found
    for key in sorted(set(map(str, document)) - set(SECTIONS)):
        add(ConfigError(f"{key}: unknown top-level key; expected {', '.join(SECTIONS)}", path=(key,)))
    for section in REQUIRED_SECTIONS:
        if section not in document:
            add(ConfigError(f"missing section '{section}'"))
    if "airflow" in document:
        attempt(_airflow, document["airflow"])
    raw_sources = document.get("sources")
    names: dict[str, Any] = {}
    if "sources" in document:
        if not isinstance(raw_sources, dict) or not raw_sources:
            add(ConfigError("sources: expected a mapping with at least one source", path=("sources",)))
        else:
            for name, spec in raw_sources.items():
                names[name] = None
                attempt(_sources, {name: spec})
    raw_routes = document.get("routes")
    if "routes" in document:
        if not isinstance(raw_routes, list):
            add(ConfigError("routes: expected a list", path=("routes",)))
        else:
            first: dict[str, int] = {}
            for index, raw in enumerate(raw_routes):
                attempt(_route, raw, index, names)
                name = raw.get("name") if isinstance(raw, dict) else None
                if not isinstance(name, str):
                    continue
                if name not in first:
                    first[name] = index
                    continue
                earlier: KeyPath = ("routes", first[name], "name")
                at = f"line {line_of(earlier)}" if line_of is not None else dotted(earlier)
                add(ConfigError(f"routes[{index}] ({name}).name: duplicate route name {name!r} (first at {at})",
                                path=("routes", index, "name")))
    if document.get("delivery") is not None:
        attempt(_delivery, document["delivery"])
    if not found:
        # parse itself must agree: anything it refuses that the steps missed.
        try:
            parse(document, {}, path)
        except ConfigError as exc:
            add(exc)
    return found


# The location convention of every ConfigError message: the section or key first, as
# ``routes[0] (deploy-main).when: ...`` (a route's name in parentheses), then ": ".
_LOCATION_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_UNKNOWN_KEY = re.compile(r"unknown key\(s\) ([^\s,;]+)")


def locate(error: ConfigError) -> ConfigError:
    """``error`` with its location as data (``path``, and ``key`` for an unknown key), for an
    error raised by a sender's, expression's or response option's builder called directly (every
    error out of :func:`parse`, :func:`load` and :func:`problems` already has it). Those builders
    name the key in front of the message (``sources.github.secrets: ...``, the ``where`` they are
    given); that convention is read here, once, where it is made. An error that already carries a
    path is returned as it is."""
    if error.path:
        return error
    message = error.detail
    depth, end = 0, -1
    for index, char in enumerate(message):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == ":" and depth == 0 and message[index + 1:index + 2] in (" ", ""):
            end = index
            break
    head = re.sub(r" \([^)]*\)", "", message[:end] if end > 0 else "")
    if not head or " " in head:
        return error
    parts: list[str | int] = [int(number) if number else name for name, number in _LOCATION_TOKEN.findall(head)]
    if not parts or parts[0] not in SECTIONS:
        return error
    unknown = _UNKNOWN_KEY.search(message)
    return error.located(path=tuple(parts), key=unknown.group(1) if unknown else None)


def dotted(path: KeyPath) -> str:
    """``("routes", 0, "when")`` as ``routes[0].when``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$AIRHOOK_CONFIG``, else ``airhook.yaml`` next to ``main.py`` (the working directory on
    Cloud Functions)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("AIRHOOK_CONFIG") or "airhook.yaml")
