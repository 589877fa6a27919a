"""The in-process pipeline under test, and the properties every request must keep.

``Harness`` is the real pipeline (``config.parse`` + ``Receiver`` + ``logs.emit`` writing real
JSON lines) with a recording fake Airflow client. ``Harness.check(case)`` runs one request and
checks, whatever the input:

- the receiver returned (no exception escaped ``Receiver.handle``) and the status is below 500;
- no trigger reached Airflow unless the case carries a valid credential (``may_trigger``), and a
  pristine request did trigger (``must_trigger``: the positive control that keeps the rest honest);
- a forged, tampered or replayed request got the uniform 401 (or 413 for an oversized one);
- no log line, and no response, holds a configured secret, a presented secret credential or the
  case's payload canary.

A violation that matches a known airhook issue (:mod:`tests.reliability.known_issues`) is counted
under that issue instead of failing, so the suites stay green while it waits for its fix; anything
else fails with a reproducer.
"""

from __future__ import annotations

import io
import json
import secrets as _secrets
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from airhook import config as config_module
from airhook import logs
from airhook.airflow.client import Outcome
from airhook.receiver import Receiver, Response
from airhook.routing import Trigger
from airhook.senders.google_oidc import CertCache

from .known_issues import KnownIssue, match_known
from .profiles import PROFILES, Profile, Request, all_leak_strings, config_document, oidc_keys

NOW = 1_700_000_000
UNAUTHORIZED = {"error": "unauthorized", "message": "signature verification failed"}
KINDS_401 = ("forged", "tampered", "replayed")


def canary() -> str:
    """A marker placed in payloads. '!' is outside Airflow's run-id characters, so a canary can
    never be a run id (which are logged by design)."""
    return "CNRY!" + _secrets.token_hex(6)


class RecordingClient:
    """Airflow stand-in: records triggers; a run id seen before is a duplicate (Airflow's 409)."""

    def __init__(self) -> None:
        self.triggers: list[Trigger] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        with self._lock:
            self.triggers.append(trigger)
            if trigger.dag_run_id in self._seen:
                return Outcome("duplicate", 409)
            self._seen.add(trigger.dag_run_id)
            return Outcome("queued", 200)


@dataclass
class Case:
    profile: Profile
    kind: str  # pristine | authentic | forged | tampered | replayed | routing
    request: Request
    may_trigger: bool
    must_trigger: bool = False
    canary: str = ""
    note: str = ""


class Violation(AssertionError):
    pass


@dataclass
class Stats:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    triggers: int = 0
    log_lines: int = 0
    known: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def merge(self, other: Stats) -> None:
        self.cases.update(other.cases)
        self.statuses.update(other.statuses)
        self.triggers += other.triggers
        self.log_lines += other.log_lines
        self.known.update(other.known)
        for key, value in other.examples.items():
            self.examples.setdefault(key, value)


def build_config(document: Mapping[str, Any]) -> config_module.Config:
    """``config.parse``, with google-oidc sources fetching certificates from memory."""
    cfg = config_module.parse(dict(document), {})
    certs = json.dumps(oidc_keys()["certs"]).encode()

    def fetch(url: str, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
        return 200, {"cache-control": "public, max-age=3600"}, certs

    sources = {name: (replace(src, certs=CertCache(src.certs.url, fetch=fetch))  # type: ignore[attr-defined]
                      if src.type == "google-oidc" else src)
               for name, src in cfg.sources.items()}
    return replace(cfg, sources=MappingProxyType(sources))


class Harness:
    def __init__(self, document: Mapping[str, Any] | None = None, *, now: int = NOW) -> None:
        self.config = build_config(document if document is not None else config_document())
        self.client = RecordingClient()
        self.buffer = io.StringIO()
        self.now = now
        self.receiver = Receiver(self.config, self.client, clock=lambda: float(self.now),  # type: ignore[arg-type]
                                 log=self._log)
        self.stats = Stats()
        self.leaks = sorted(all_leak_strings())

    def _log(self, severity: str, message: str, **fields: Any) -> None:
        logs.emit(severity, message, stream=self.buffer, **fields)

    # ------------------------------------------------------------------------------------------ run

    def handle(self, request: Request) -> Response:
        return self.receiver.handle(request.method, request.path, dict(request.headers),
                                    lambda limit: request.body, query=request.query, url=request.url)

    def check(self, case: Case) -> Response | None:
        """Run ``case`` and check every property; raises Violation with a reproducer."""
        self.buffer = io.StringIO()  # one per request: the lines this request wrote
        before = len(self.client.triggers)
        self.stats.cases[case.kind] += 1
        try:
            response = self.handle(case.request)
        except Exception as exc:  # the receiver must never raise
            self._fail(case, None, "", f"Receiver.handle raised {type(exc).__name__}: {exc}")
            return None
        lines = self.buffer.getvalue()
        self.stats.statuses[response.status] += 1
        self.stats.log_lines += lines.count("\n")
        triggered = len(self.client.triggers) - before
        self.stats.triggers += triggered
        problems: list[str] = []
        if response.status >= 500:
            problems.append(f"status {response.status}")
        if triggered and not case.may_trigger:
            problems.append(f"{triggered} trigger(s) without a valid credential")
        if case.must_trigger and triggered != 1 and not _handshake(response):
            problems.append(f"pristine request: {triggered} triggers, status {response.status} "
                            f"{response.body}")
        if case.kind in KINDS_401 and not triggered:
            if response.status not in (401, 413, *case.profile.also_refused_with):
                problems.append(f"{case.kind} request answered {response.status}, not 401")
            elif response.status == 401 and dict(response.body) != UNAUTHORIZED:
                problems.append(f"401 body differs: {response.body}")
        leak = self._leak(case, lines, response)
        if leak:
            problems.append(leak)
        if problems:
            self._fail(case, response, lines, "; ".join(problems))
        return response

    def _leak(self, case: Case, lines: str, response: Response) -> str | None:
        # Secrets, tokens and canaries are ASCII without quotes or backslashes: JSON escaping
        # cannot hide them from a substring search.
        text = lines + json.dumps(dict(response.body), default=str)
        for secret in self.leaks:
            if secret in text:
                return f"configured secret {secret[:6]}... in the log or response"
        if case.profile.credential_is_secret:
            for name in case.profile.credential_headers:
                value = case.request.headers.get(name, "")
                token = value.split(" ", 1)[-1].strip()
                # Generated tokens and JWTs are long; a short random value may be a log word.
                if len(token) >= 20 and token in lines:
                    return f"presented credential from {name} in the log"
        if case.canary and case.canary in text:
            return f"payload canary {case.canary} in the log or response"
        return None

    def _fail(self, case: Case, response: Response | None, lines: str, problem: str) -> None:
        issue: KnownIssue | None = match_known(case, response, lines, problem)
        if issue is not None:
            self.stats.known[issue.id] += 1
            self.stats.examples.setdefault(issue.id, reproducer(case, response, lines, problem))
            return
        raise Violation(reproducer(case, response, lines, problem))


def _handshake(response: Response) -> bool:
    return response.status == 200 and "runs" not in response.body


def reproducer(case: Case, response: Response | None, lines: str, problem: str) -> str:
    r = case.request
    status = None if response is None else (response.status, dict(response.body))
    return (f"{problem}\n  profile={case.profile.name} kind={case.kind} {case.note}\n"
            f"  request: {r.method} {r.path}?{r.query}\n  headers={dict(r.headers)!r}\n"
            f"  body={r.body[:600]!r}{'...' if len(r.body) > 600 else ''} ({len(r.body)} bytes)\n"
            f"  response={status}\n  log={lines.strip()[:1200]}")


def profile_list() -> list[Profile]:
    return list(PROFILES.values())
