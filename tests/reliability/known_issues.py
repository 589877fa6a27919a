"""airhook issues these suites found that are not fixed yet, each with its predicate.

A property violation that matches one is counted (and printed in the figures) instead of failing
the property test; ``test_known_issues.py`` reproduces each one minimally as a strict xfail, so
the fix makes that test XPASS, i.e. fail, until its entry here is deleted. Any violation that
matches none fails at once.
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
    matches: Callable[[Any, Any, str, str], bool]


def _only(problem: str, *accepted: str) -> bool:
    """Every part of ``problem`` is one of the ``accepted`` kinds: a known 500 must not hide a leak."""
    return all(any(part.startswith(a) or a in part for a in accepted) for part in problem.split("; "))


def _is_500(problem: str) -> bool:
    return _only(problem, "status 500", "answered 500, not 401")


def _content_length(case: Case, response: Response | None, lines: str, problem: str) -> bool:
    length = case.request.headers.get("content-length", "")
    return (_is_500(problem) and response is not None and response.status == 500 and "unexpected ValueError" in lines
            and length.isdigit() and (not length.isascii() or len(length) > 4300))


def _surrogate_run_id(case: Case, response: Response | None, lines: str, problem: str) -> bool:
    return (_is_500(problem) and response is not None and response.status == 500
            and "unexpected UnicodeEncodeError" in lines and "\\ud" in lines.lower())


def _route_error_leak(case: Case, response: Response | None, lines: str, problem: str) -> bool:
    return (_only(problem, "payload canary") and response is not None and response.status == 422
            and '"error":"route_error"' in lines)


def _never(case: Case, response: Response | None, lines: str, problem: str) -> bool:
    return False  # an HTTP-level issue: the in-process harness cannot meet it


#: gunicorn's body-reading errors that airhook answers 500 to (K4)
BODY_READ_ERRORS = ("InvalidChunkSize", "NoMoreData", "ChunkMissingTerminator", "InvalidHeader",
                    "ClientDisconnected", "UnreaderError")


KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        "K1-content-length",
        "A Content-Length header that str.isdigit() accepts but int() refuses (a superscript "
        "digit such as '\\u00b2', or more than 4300 digits) escapes Receiver._handle as ValueError: 500",
        "receiver.py: `if length and length.isascii() and length.isdigit() and len(length) <= 20 "
        "and int(length) > source.max_body_bytes` (or a re.fullmatch(r'[0-9]{1,20}'))",
        _content_length),
    KnownIssue(
        "K2-surrogate-delivery-id",
        "A delivery id with a lone surrogate (JSON '\\ud800' in Stripe's id, Slack's event_id, "
        "a body locator...) makes routing.default_run_id raise UnicodeEncodeError: 500",
        "routing.py default_run_id: hash delivery_id.encode('utf-8', 'surrogatepass'); "
        "better, common.delivery_id refuses an id that is not encodable (400)",
        _surrogate_run_id),
    KnownIssue(
        "K3-route-error-leaks-payload",
        "RouteError details carry payload values into the log: JMESPath type errors quote the "
        "value ('invalid type for value: <payload>') and an invalid run_id is logged with !r",
        "routing.py: log only the route, the key and the JMESPath error class "
        "(type(exc).__name__), and for run_id its type and length, never the value",
        _route_error_leak),
    KnownIssue(
        "K4-body-read-error-is-500",
        "A body that cannot be read (bad chunk size, chunked body cut off, client gone) makes "
        "gunicorn raise InvalidChunkSize/NoMoreData inside http.read_limited; Receiver answers "
        "500 internal_error and logs ERROR, so a broken client shows up as an airhook bug",
        "http.py read_limited: wrap stream.read in try/except Exception as exc -> raise "
        "MalformedRequest(f'request body could not be read: {type(exc).__name__}', "
        "public='request body could not be read') (400)",
        _never),
    KnownIssue(
        "K5-refused-body-still-buffered",
        "functions-framework's after_request hook (read_request) calls request.get_data() before "
        "every response: a body airhook refused (413 over max_body_bytes, 404, 405) is still read "
        "to the end and kept in memory (a 300 MB chunked POST to a 1 KB source grew the worker "
        "by 310 MB), and a Content-Length of 10**20 gets no answer at all",
        "http.py: have read_limited mark the request when it read the body to EOF; in handle(), "
        "when it did not, set request._cached_data = b'' (what get_data() then returns) and "
        "answer with 'Connection: close', so nothing more is read from that connection",
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
