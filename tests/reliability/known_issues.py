"""airhook issues these suites found that are not fixed yet, each with its predicate.

A property violation that matches one is counted (and printed in the figures) instead of failing
the property test; ``test_findings.py`` reproduces each one minimally as a strict xfail, so the fix
makes that test XPASS, i.e. fail, until its entry here and the xfail mark are deleted. Any
violation that matches none fails at once.

Fixed findings keep their reproducer in ``test_findings.py`` as an ordinary regression test:
F1 odd Content-Length (500), F2 lone-surrogate delivery id (500), F3 payload values in RouteError
details (log leak), F4 unreadable body (500), F5 refused bodies still read to the end and
buffered by functions-framework (memory, no answer to a huge Content-Length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from airhook.receiver import Response

    from .harness import Case


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    fix: str
    #: ``matches(case, response, log_lines, problem)``: does this violation show this issue?
    matches: Callable[[Any, Any, str, str], bool]


def _never(case: Case, response: Response | None, lines: str, problem: str) -> bool:
    return False  # not reachable from the in-process harness: reproduced in test_findings.py only


KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        "K6-short-jwt-fetched-per-request",
        "Airflow tokens living 60 s or less (api_auth.jwt_expiration_time) are renewed before "
        "every request: AirflowJwtAuth subtracts EXPIRY_MARGIN = 60 s from exp, so a token is "
        "already due when it arrives (5 triggers -> 5 POST /auth/token)",
        "airflow/auth.py AirflowJwtAuth._fetch: margin = min(EXPIRY_MARGIN, lifetime / 4) with "
        "lifetime = exp - iat (or exp - now when there is no iat)",
        _never),
    KnownIssue(
        "K7-invalid-jwt-403-not-refreshed",
        "Airflow 3 answers 403 'Invalid JWT token' (not 401) to a token it cannot verify, e.g. "
        "after its JWT secret changed with an api-server restart (seen on the real Airflow 3.3.2 "
        "in test_faults); airhook refreshes only on 401, so every delivery is a 502 "
        "airflow_auth_failed until its cached token's own expiry (24 h by default)",
        "airflow/transport.py HttpTransport.request: refresh once on 403 as on 401 when the auth "
        "can refresh (if reply.status in (401, 403) and self.auth.refresh(): send again); a 403 "
        "that survives a fresh token is a real permission error",
        _never),
)


def match_known(case: Case, response: Response | None, lines: str, problem: str) -> KnownIssue | None:
    for issue in KNOWN_ISSUES:
        try:
            if issue.matches(case, response, lines, problem):
                return issue
        except Exception:  # a predicate must never hide the violation it was asked about
            continue
    return None
