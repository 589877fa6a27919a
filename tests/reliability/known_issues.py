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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


KNOWN_ISSUES: tuple[KnownIssue, ...] = ()  # K6 and K7 fixed: see test_findings.py


def match_known(case: Case, response: Response | None, lines: str, problem: str) -> KnownIssue | None:
    for issue in KNOWN_ISSUES:
        try:
            if issue.matches(case, response, lines, problem):
                return issue
        except Exception:  # a predicate must never hide the violation it was asked about
            continue
    return None
