"""atheris fuzz targets (suite 2): the verifiers, the body parser and the routing engine.

Run one, time-bounded, with its seed corpus and crash artifacts where test_fuzz.py puts them::

    python -m tests.reliability.fuzz_targets verifiers -max_total_time=60 -artifact_prefix=DIR/ CORPUS

Each target raises (so libFuzzer saves the input as a crash) only on a property violation that
is not a known issue. ``replay(target, data)`` runs one input without atheris: test_fuzz.py replays
every saved crash that way in the fast profile, so a crash stays a failing test until it is fixed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

try:
    import atheris
except ImportError:  # replay needs no atheris
    atheris = None

if atheris is not None and __name__ == "__main__":
    # Coverage feedback for airhook's own code: import it, and every sender module, instrumented.
    import importlib

    with atheris.instrument_imports(include=["airhook"]):
        import airhook.body  # noqa: F401
        import airhook.receiver  # noqa: F401
        import airhook.routing  # noqa: F401
        from airhook.senders import _TYPES

        for _module in _TYPES.values():
            importlib.import_module(_module)

from airhook import body as body_module
from airhook.config import RUN_ID_PATTERN
from airhook.delivery import Delivery, Inbound
from airhook.errors import MalformedRequest, RouteError, UnsupportedMediaType
from airhook.routing import MAX_RUN_ID, route

from .harness import NOW, Case, Harness, canary
from .profiles import PROFILES, Request

PROFILE_NAMES = sorted(PROFILES)


class Provider:
    """atheris.FuzzedDataProvider's calls this module uses, for replays without atheris."""

    def __init__(self, data: bytes) -> None:
        self.fdp = atheris.FuzzedDataProvider(data) if atheris is not None else None
        self.data, self.pos = data, 0

    def int(self, n: int) -> int:
        if self.fdp is not None:
            return self.fdp.ConsumeIntInRange(0, n - 1)
        value = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return value % n

    def bytes(self, n: int) -> bytes:
        if self.fdp is not None:
            return self.fdp.ConsumeBytes(self.fdp.ConsumeIntInRange(0, n))
        size = self.int(n + 1)
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def text(self, n: int) -> str:
        return self.bytes(n).decode("latin-1")

    def rest(self) -> bytes:
        if self.fdp is not None:
            return self.fdp.ConsumeBytes(atheris.ALL_REMAINING)
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk


# ------------------------------------------------------------------------------------------ verifiers

_HARNESS: Harness | None = None


def verifiers(data: bytes) -> None:
    """A request for one profile: signed with the real secret or not, then headers replaced by
    fuzz bytes (as WSGI delivers them: latin-1 text). The harness checks every property."""
    global _HARNESS
    if _HARNESS is None:
        _HARNESS = Harness()
    p = Provider(data)
    profile = PROFILES[PROFILE_NAMES[p.int(len(PROFILE_NAMES))]]
    mode = p.int(3)  # 0 unsigned, 1 signed then headers changed, 2 signed over a fuzz body
    mark = canary()
    body = p.bytes(4096)
    if mode == 2:
        request = profile.build("fz-" + p.text(40), NOW, mark, body=body)
        _HARNESS.check(Case(profile, "authentic", request, may_trigger=True, canary=mark, note="fuzz"))
        return
    request = profile.build("fz-1", NOW, mark)
    names = sorted(request.headers)
    changes = {}
    for _ in range(p.int(4) + 1):
        changes[names[p.int(len(names))].replace("-", "_")] = p.text(200)
    request = request.with_headers(**changes)
    touched = {name.replace("_", "-") for name in changes}
    credential = set(profile.credential_headers) | set(profile.signed_headers)
    if mode == 0:
        request = request.with_headers(**{h.replace("-", "_"): None for h in profile.credential_headers})
        request = Request(request.method, request.path, request.headers, body + mark.encode(),
                          request.query, request.url)
        _HARNESS.check(Case(profile, "forged", request, may_trigger=False, canary=mark, note="fuzz"))
        return
    changed = any(request.headers.get(h) != profile.build("fz-1", NOW, mark).headers.get(h)
                  for h in touched & credential)
    if changed and profile.oracle is None:
        _HARNESS.check(Case(profile, "tampered", request, may_trigger=False, canary=mark, note="fuzz"))
    else:
        allowed = profile.oracle(request) if profile.oracle is not None else True
        _HARNESS.check(Case(profile, "authentic" if allowed else "tampered", request,
                            may_trigger=allowed, canary=mark, note="fuzz"))


# ------------------------------------------------------------------------------------------ body parser

_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain",
                  "application/octet-stream", "application/vnd.x+json", "")


def _depth(node: Any) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def body(data: bytes) -> None:
    """parse_body / parse_json / parse_generic_body: a typed 4xx error or a finite, shallow,
    re-serialisable document; nothing else."""
    from airhook.body import parse_generic_body

    p = Provider(data)
    content_type = _CONTENT_TYPES[p.int(len(_CONTENT_TYPES))]
    raw = p.rest()
    for parse in (lambda: body_module.parse_body(raw, content_type),
                  lambda: body_module.parse_json(raw),
                  lambda: parse_generic_body(Inbound("POST", "/x", {"content-type": content_type}, raw))):
        try:
            document = parse()
        except (MalformedRequest, UnsupportedMediaType):
            continue
        json.dumps(document, allow_nan=False)  # finite numbers only; raises otherwise
        if _depth(document) > body_module.MAX_DEPTH:
            raise AssertionError(f"document deeper than {body_module.MAX_DEPTH} accepted")


# ------------------------------------------------------------------------------------------ routing

_ROUTES: Any = None


def _routes() -> Any:
    global _ROUTES
    if _ROUTES is None:
        from airhook import config

        from .test_bad_input import ROUTING_DOCUMENT
        _ROUTES = config.parse(ROUTING_DOCUMENT, {}).routes
    return _ROUTES


def routing(data: bytes) -> None:
    """route() over a parsed fuzz document: RouteError or triggers whose run ids Airflow accepts
    and whose conf serialises."""
    p = Provider(data)
    event = ("custom", "other", "typed", "functions")[p.int(4)]
    ident = p.text(60)
    try:
        document = body_module.parse_json(p.rest())
    except MalformedRequest:
        return
    delivery = Delivery(source="r-token", event=event, delivery_id=ident or "x", body=document,
                        headers={"x-request-id": ident})
    try:
        triggers = route(_routes(), delivery)
    except RouteError:
        return
    for trigger in triggers:
        if not RUN_ID_PATTERN.match(trigger.dag_run_id) or len(trigger.dag_run_id) > MAX_RUN_ID:
            raise AssertionError(f"invalid run id {trigger.dag_run_id!r}")
        json.dumps(trigger.conf, allow_nan=False)


TARGETS: dict[str, Callable[[bytes], None]] = {"verifiers": verifiers, "body": body, "routing": routing}


def replay(target: str, data: bytes) -> None:
    TARGETS[target](data)


def main(argv: list[str]) -> None:
    target = TARGETS[argv[1]]
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
