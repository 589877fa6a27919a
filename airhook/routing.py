"""Map a verified delivery to zero or more DAG runs.

A route matches when its source is the delivery's, the event is in its allowlist and its ``when``
expression is truthy. The DAG id is fixed per route: a payload never chooses which DAG runs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from jmespath.exceptions import JMESPathError

from .body import check_depth
from .config import RUN_ID_PATTERN, AssetTarget, DagTarget, Route, Target
from .delivery import Delivery
from .errors import ConfNotStorable, MalformedRequest, RouteError
from .expressions import truthy

MAX_RUN_ID = 250


#: What Airflow said about one trigger (airflow/client.py's ``Outcome``): the run or event was
#: created (``queued``), or one with that id exists (``duplicate``: this delivery was triggered).
TriggerStatus: TypeAlias = Literal["queued", "duplicate"]
#: A run's ``status`` in ``receive``'s answer: Airflow's, or why the run was not created.
#: (``accepted``: queue mode, published for ``deliver``.)
RunStatus: TypeAlias = Literal["queued", "duplicate", "failed", "not_attempted", "accepted"]


@dataclass(frozen=True, init=False)
class Trigger:
    """One DAG run to create (:class:`DagTarget`) or one asset event (:class:`AssetTarget`:
    ``conf`` is then its ``extra`` and ``dag_run_id`` its deterministic event id)."""

    route: str
    target: Target
    dag_run_id: str
    conf: dict[str, Any]
    note: str | None = None

    def __init__(self, route: str, target: Target | None = None, *, dag_run_id: str,
                 conf: dict[str, Any], note: str | None = None,
                 dag_id: str | None = None, asset: str | None = None) -> None:
        """``target``, or (the older spelling, still used by callers that name a DAG or an asset
        directly) exactly one of ``dag_id`` and ``asset``."""
        if target is None:
            if (dag_id is None) == (asset is None):
                raise TypeError("Trigger: give a target, or exactly one of dag_id and asset")
            target = DagTarget(dag_id) if dag_id is not None else AssetTarget(asset or "")
        elif dag_id is not None or asset is not None:
            raise TypeError("Trigger: give a target or dag_id/asset, not both")
        # A frozen dataclass's own __init__ sets its fields the same way.
        object.__setattr__(self, "route", route)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "dag_run_id", dag_run_id)
        object.__setattr__(self, "conf", conf)
        object.__setattr__(self, "note", note)

    # Views for callers that only compare or show the target (Route has the same two).
    @property
    def dag_id(self) -> str | None:
        return self.target.dag_id if isinstance(self.target, DagTarget) else None

    @property
    def asset(self) -> str | None:
        return self.target.asset if isinstance(self.target, AssetTarget) else None

    def describe(self) -> dict[str, Any]:
        """The trigger as responses and logs show it."""
        if isinstance(self.target, AssetTarget):
            return {"route": self.route, "asset": self.target.asset, "event_id": self.dag_run_id}
        return {"route": self.route, "dag_id": self.target.dag_id, "dag_run_id": self.dag_run_id}


@dataclass(frozen=True)
class Decision:
    """Why a route did or did not match (for logs and ``airhook explain``)."""

    route: str
    matched: bool
    reason: str


def default_run_id(source: str, route: str, delivery_id: str) -> str:
    """``airhook__<source>__<route>__<delivery id>``: the same delivery always gives the same run
    id, so a redelivery is a 409 in Airflow instead of a second run. A delivery id outside
    Airflow's allowed characters, or one that would make the id too long, is replaced by its
    hash (hashing rather than stripping characters keeps distinct ids distinct)."""
    prefix = f"airhook__{source}__{route}__"
    if not RUN_ID_PATTERN.match(delivery_id) or len(prefix) + len(delivery_id) > MAX_RUN_ID:
        # surrogatepass: an id that is not valid text must still hash, never raise
        delivery_id = "h" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return prefix + delivery_id


#: What evaluating an expression over payload data may raise: JMESPath's own errors, recursion on
#: deep values, and the bare TypeError that jmespath 1.1.0's max_by/min_by raise comparing mixed
#: types (``max_by([{n: ''}, {n: 0}], &n)``), found by the long bad-input profile.
EVALUATION_ERRORS = (JMESPathError, RecursionError, TypeError, ValueError)


def decide(route: Route, delivery: Delivery, document: dict[str, Any]) -> Decision:
    if route.source != delivery.source:
        return Decision(route.name, False, f"source is {delivery.source!r}, route wants {route.source!r}")
    if route.events is not None and delivery.event not in route.events:
        return Decision(route.name, False, f"event {delivery.event!r} not in {sorted(route.events)}")
    if route.when is not None:
        try:
            value = route.when.search(document)
        except EVALUATION_ERRORS as exc:
            return Decision(route.name, False, f"'when' could not be evaluated: {type(exc).__name__}")
        if not truthy(value):
            return Decision(route.name, False, f"'when' is {json.dumps(value)[:80]}")
    return Decision(route.name, True, "matched")


def unstorable(value: Any) -> str | None:
    """Why ``value`` cannot be stored as a DAG run's ``conf`` by any Airflow, or None.

    PostgreSQL refuses NUL in text and JSON (Airflow 3.3 answers 422 "Value rejected by database",
    other backends and versions 500), a lone surrogate cannot be encoded as UTF-8 at all, and NaN or
    Infinity are not JSON (Python's json writes them, Airflow's JSON parser refuses them). A retry
    sends the same value, so this is refused up front instead of looking like an outage.
    """
    # Iterative: depth is bounded by check_depth, but a walk need not recurse to be correct.
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return "a NUL character"
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return "a lone surrogate (not valid Unicode)"
        elif isinstance(node, bool) or node is None or isinstance(node, int):
            continue
        elif isinstance(node, float):
            if not math.isfinite(node):
                return f"{node!r}, which is not JSON"
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        else:
            return f"a {type(node).__name__}, which is not JSON"
    return None


#: Airflow stores a run's note in a 1,000-character column (``dag_run_note.content``, 2.5+); a
#: longer one is answered 422 "Value rejected by database" (Airflow 3 on PostgreSQL).
MAX_NOTE = 1000


def scrub(text: str) -> str:
    """``text`` as a note any Airflow stores: what no database stores (NUL, lone surrogates)
    replaced by U+FFFD, and cut to :data:`MAX_NOTE` characters (an ellipsis marks the cut). The note
    is a label for people, which is not worth refusing a delivery over."""
    if len(text) > MAX_NOTE:
        text = text[:MAX_NOTE - 1] + "\u2026"
    if unstorable(text) is None:
        return text
    # A Python str holds a surrogate pair as one astral character, so any surrogate is lone.
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)


def _evaluate(route: Route, key: str, expression: Any, document: dict[str, Any]) -> Any:
    try:
        value = expression.search(document)
        check_depth(value)  # json.dumps of the run's conf recurses too
        return value
    except (*EVALUATION_ERRORS, MalformedRequest) as exc:
        # The exception's message quotes the offending value, i.e. payload data: log its class only.
        raise RouteError(f"route {route.name}: {key} failed: {type(exc).__name__}",
                         public=f"route {route.name!r}: {key} could not be evaluated") from None


def build_trigger(route: Route, delivery: Delivery, document: dict[str, Any]) -> Trigger:
    """The run a matched route creates.

    Raises:
        RouteError: a ``conf``, ``note`` or ``run_id`` expression failed or gave an unusable value.
    """
    conf = {key: _evaluate(route, f"conf.{key}", expr, document) for key, expr in route.conf}
    for key, value in conf.items():
        problem = unstorable(value)
        if problem is not None:
            raise ConfNotStorable(f"route {route.name}: conf.{key} holds {problem}",
                                  public=f"route {route.name!r}: conf.{key} holds {problem}; "
                                         "Airflow cannot store it")
    if route.run_id is not None:
        run_id = _evaluate(route, "run_id", route.run_id, document)
        if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id) or len(run_id) > MAX_RUN_ID:
            shape = (f"{type(run_id).__name__} of length {len(run_id)}" if isinstance(run_id, str)
                     else type(run_id).__name__)
            raise RouteError(f"route {route.name}: run_id ({shape}) is not a valid Airflow run id",
                             public=f"route {route.name!r}: run_id is not a valid Airflow run id")
    else:
        run_id = default_run_id(delivery.source, route.name, delivery.delivery_id)
    if isinstance(route.target, AssetTarget):
        note = None
    elif route.note is not None:
        note = _evaluate(route, "note", route.note, document)
        note = None if note is None else scrub(str(note))
    else:
        note = scrub(f"airhook: {delivery.source} {delivery.event} delivery {delivery.delivery_id}")
    return Trigger(route=route.name, target=route.target, dag_run_id=run_id, conf=conf, note=note)


def route(routes: Iterable[Route], delivery: Delivery) -> list[Trigger]:
    """The runs ``delivery`` should create, in route order."""
    document = delivery.document()
    return [build_trigger(r, delivery, document) for r in routes if decide(r, delivery, document).matched]


def explain(routes: Iterable[Route], delivery: Delivery) -> list[tuple[Decision, Trigger | None]]:
    """Every route's decision and, for matches, the run it would create."""
    document = delivery.document()
    result: list[tuple[Decision, Trigger | None]] = []
    for r in routes:
        decision = decide(r, delivery, document)
        result.append((decision, build_trigger(r, delivery, document) if decision.matched else None))
    return result
