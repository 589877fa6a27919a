"""Suite 1, over HTTP: the production server (functions-framework's gunicorn) on 127.0.0.1, fed raw
bytes: wrong methods, header injection and obs-fold, non-ASCII header bytes, chunked bodies good
and bad, huge and contradictory Content-Lengths, odd request targets, pipelining, client
disconnects, then a hypothesis sample of random raw requests.

Properties: never a 5xx (a malformed request may also be closed without an answer), every
signed positive control triggers exactly once and nothing else triggers, the server survives
(health check, same PID), and its log holds no traceback, no 500, no secret and no canary.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.stubs import Recorded, StubServer
from tools.function_server import FunctionServer

from . import figures
from .corpus import NASTY_BODIES, NASTY_HEADER_VALUES
from .harness import canary
from .profiles import PROFILES, Profile, Request, all_leak_strings, config_document, oidc_keys
from .rawhttp import RawResponse, build, send

SUITE = "1 bad input (HTTP, production server)"
NAMES = ("r-github", "r-stripe", "r-slack", "r-standard-webhooks", "r-twilio-form", "r-hubspot",
         "r-token", "r-google-oidc", "r-gitlab")
HYPOTHESIS_EXAMPLES = figures.pick(150, 3000)


class Airflow:
    """Stand-in Airflow (and Google certificate endpoint): records run ids, 409 on a repeat."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.server = StubServer(self.answer).start()

    def answer(self, request: Recorded) -> tuple[int, Any]:
        if request.method == "GET":
            return 200, oidc_keys()["certs"]
        run_id = request.json().get("dag_run_id")
        duplicate = run_id in self.runs
        self.runs.append(run_id)
        return (409, {"detail": "exists"}) if duplicate else (200, {"state": "queued"})


@pytest.fixture(scope="module")
def airflow() -> Iterator[Airflow]:
    stub = Airflow()
    yield stub
    stub.server.stop()


@pytest.fixture(scope="module")
def server(airflow: Airflow) -> Iterator[FunctionServer]:
    profiles = {n: PROFILES[n] for n in NAMES}
    document = config_document(profiles, airflow_url=airflow.server.url)
    document["sources"]["r-google-oidc"]["certs_url"] = airflow.server.url + "/oauth2/v1/certs"
    document["sources"]["r-small"] = {"type": "github", "secrets": [PROFILES["r-github"].secret],
                                      "max_body_bytes": 1024}
    document["routes"].append({"name": "small", "source": "r-small", "dag_id": "reliability_sink"})
    fn = FunctionServer(json.dumps(document))
    fn.start()
    figures.register_log(SUITE, "function server", fn.log_path)
    pid = fn.pid
    yield fn
    alive = send(fn.port, build("GET", "/_health", [], framing="none")).status
    fn.stop()
    assert alive == 200 and fn.pid is None and pid is not None, "the server did not survive the suite"
    text = fn.log_text()
    problems = [marker for marker in ("Traceback", '"status":500', "internal_error", "Worker exiting",
                                      "WORKER TIMEOUT") if marker in text]
    leaks = [s[:6] + "..." for s in all_leak_strings() if s in text]
    canaries = [c for c in CANARIES if c in text]
    figures.record(SUITE, log_lines_scanned=text.count("\n"))
    assert not problems and not leaks and not canaries, (problems, leaks, canaries, text[-3000:])


CANARIES: list[str] = []
COUNTS = {"cases": 0, "positive_controls": 0}
STATUSES: dict[str, int] = {}


def note(response: RawResponse) -> None:
    COUNTS["cases"] += 1
    key = str(response.status) if response.status is not None else "closed"
    STATUSES[key] = STATUSES.get(key, 0) + 1


def raw(profile: Profile, request: Request, **kwargs: Any) -> bytes:
    target = request.path + ("?" + request.query if request.query else "")
    headers = [(k, v.encode("utf-8", "surrogateescape")) for k, v in request.headers.items()]
    return build("POST", target, headers, request.body, **kwargs)


def signed(name: str, mark: str = "") -> tuple[Profile, Request]:
    profile = PROFILES[name]
    return profile, profile.build("h-" + uuid.uuid4().hex[:12], int(time.time()), mark)


KNOWN: dict[str, int] = {}


def expect_no_5xx(response: RawResponse, what: str, known: str | None = None) -> None:
    """No 5xx, except gunicorn's own 501 for a transfer coding it does not implement (RFC 9112
    says 501) and, for a case tagged with a known airhook issue, that issue's symptom."""
    note(response)
    bad = [s for s in response.statuses if s >= 500
           and not (s == 501 and b"Unsupported transfer coding" in response.data)]
    if known is not None and (bad or response.status is None):
        KNOWN[known] = KNOWN.get(known, 0) + 1
        return
    assert not bad, f"{what}: {response.data[:600]!r}"


# ------------------------------------------------------------------------------------ positive controls


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("framing", ["length", "chunked", "chunked-1"])
def test_signed_delivery_triggers_once_whatever_the_framing(server: FunctionServer, airflow: Airflow,
                                                            name: str, framing: str) -> None:
    mark = canary()
    CANARIES.append(mark)
    profile, request = signed(name, mark)
    before = len(airflow.runs)
    kwargs: dict[str, Any] = {"framing": "chunked" if framing.startswith("chunked") else "length"}
    if framing == "chunked-1":
        kwargs["chunks"] = [1] * 64 + [4096]
    response = send(server.port, raw(profile, request, **kwargs))
    note(response)
    COUNTS["positive_controls"] += 1
    assert response.status == 200, response.data[:800]
    assert len(airflow.runs) == before + 1


def test_expect_continue_pipelining_http10_and_trailing_slash(server: FunctionServer, airflow: Airflow) -> None:
    before = len(airflow.runs)
    profile, request = signed("r-stripe")
    data = raw(profile, request.with_headers(expect="100-continue"))
    assert send(server.port, data, expect=1).statuses[-1] == 200
    profile, first = signed("r-github")
    _, second = signed("r-github")
    response = send(server.port, raw(profile, first) + raw(profile, second), expect=2)
    assert response.statuses == [200, 200], response.data[:500]
    profile, request = signed("r-token")
    response = send(server.port, raw(profile, request, version=b"HTTP/1.0"))
    assert response.status == 200
    profile, request = signed("r-github")
    response = send(server.port, raw(profile, Request("POST", "/r-github/", request.headers, request.body)))
    assert response.status == 200
    profile, request = signed("r-github")
    # Non-ASCII (UTF-8) bytes in an unsigned header: WSGI hands them over as latin-1 text.
    response = send(server.port, raw(profile, request.with_headers(x_github_delivery="d\u00c3\u00a9j\u00c3\u00a0")))
    assert response.status == 200
    note(response)
    COUNTS["positive_controls"] += 6
    assert len(airflow.runs) == before + 6


# ------------------------------------------------------------------------------------ negative cases

METHODS = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO", "get", "CONNECT",
           "PROPFIND", "POST\x00", "P OST"]


@pytest.mark.parametrize("method", METHODS)
def test_wrong_methods(server: FunctionServer, airflow: Airflow, method: str) -> None:
    before = len(airflow.runs)
    profile, request = signed("r-github")
    data = raw(profile, request).replace(b"POST ", method.encode("latin-1") + b" ", 1)
    response = send(server.port, data, timeout=5)
    expect_no_5xx(response, method)
    if method in ("GET", "PUT", "DELETE", "PATCH"):
        assert response.status == 405 and b"Allow: POST" in response.data
    assert len(airflow.runs) == before


def _cases() -> list[tuple[str, Any]]:
    """(name, builder(port-independent) -> (bytes, send kwargs)) for every malformed request."""
    github = PROFILES["r-github"]

    def g() -> Request:
        return github.build("h-" + uuid.uuid4().hex[:12], int(time.time()))

    def unsigned() -> Request:
        return g().with_headers(x_hub_signature_256=None)

    def with_raw_headers(request: Request, extra: bytes, drop: tuple[str, ...] = ()) -> bytes:
        req = request.with_headers(**{d.replace("-", "_"): None for d in drop})
        data = raw(github, req)
        head, _, body = data.partition(b"\r\n\r\n")
        return head + b"\r\n" + extra + b"\r\n\r\n" + body

    sig = lambda r: r.headers["x-hub-signature-256"].encode()  # noqa: E731
    cases: list[tuple[str, Any]] = [
        ("obs-fold signature", lambda: (lambda r: (with_raw_headers(
            r, b"X-Hub-Signature-256: sha256=\r\n " + sig(r)[7:], ("x-hub-signature-256",)), {}))(g())),
        ("bare LF line endings", lambda: (raw(github, unsigned()).replace(b"\r\n", b"\n"), {})),
        ("CR inside a header value", lambda: (with_raw_headers(unsigned(), b"X-GitHub-Event: push\rX-Injected: 1"), {})),
        ("NUL inside a header value", lambda: (with_raw_headers(unsigned(), b"X-Hub-Signature-256: sha256=\x00" + b"a" * 64), {})),
        ("space before colon", lambda: (lambda r: (with_raw_headers(
            r, b"X-Hub-Signature-256 : " + sig(r), ("x-hub-signature-256",)), {}))(g())),
        ("header name with non-ASCII", lambda: (with_raw_headers(unsigned(), b"X-\xc3\xa9: 1"), {})),
        ("UTF-8 signature bytes", lambda: (with_raw_headers(unsigned(), b"X-Hub-Signature-256: sha256=" + "\u00e9".encode() * 32), {})),
        ("latin-1 signature bytes", lambda: (with_raw_headers(unsigned(), b"X-Hub-Signature-256: sha256=" + b"\xe9" * 64), {})),
        ("duplicate signature, bad last", lambda: (lambda r: (with_raw_headers(
            r, b"X-Hub-Signature-256: sha256=" + b"0" * 64), {}))(g())),
        ("host with CRLF-injected header", lambda: (with_raw_headers(unsigned(), b"Host: evil.example\r\nX-Forwarded-Host: evil"), {})),
        ("Host non-ASCII", lambda: (with_raw_headers(unsigned(), b"X-Forwarded-Host: \xff\xfe"), {})),
        ("200 headers", lambda: (with_raw_headers(unsigned(), b"\r\n".join(b"X-H%d: v" % i for i in range(200))), {})),
        ("16 KB header value", lambda: (with_raw_headers(unsigned(), b"X-Big: " + b"a" * 16384), {})),
        ("100 KB request target", lambda: (raw(github, unsigned()).replace(b"/r-github", b"/r-github?" + b"a=1&" * 25000, 1), {})),
        ("Content-Length 10**20", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: 100000000000000000000\r\nX-Was: ", 1), {"timeout": 3})),
        ("Content-Length 5000 digits", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: " + b"9" * 5000 + b"\r\nX-Was: ", 1), {})),
        ("Content-Length superscript two", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: \xb2\r\nX-Was: ", 1), {})),
        ("Content-Length -1", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: -1\r\nX-Was: ", 1), {})),
        ("Content-Length +5", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: +5\r\nX-Was: ", 1), {})),
        ("two Content-Lengths", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: 3\r\nContent-Length: ", 1), {})),
        ("Content-Length and chunked", lambda: (raw(github, unsigned(), framing="chunked").replace(b"Transfer-Encoding", b"Content-Length: 5\r\nTransfer-Encoding", 1), {})),
        ("chunk size not hex", lambda: (raw(github, unsigned(), framing="chunked").replace(b"\r\n\r\n", b"\r\n\r\nzz\r\n", 1), {})),
        ("chunk size overflow", lambda: (raw(github, unsigned(), framing="none").replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 1), {"timeout": 3, "half_close": True})),
        ("gzip, chunked", lambda: (raw(github, unsigned(), framing="chunked").replace(b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked"), {})),
        ("xchunked", lambda: (raw(github, unsigned(), framing="chunked").replace(b"Transfer-Encoding: chunked", b"Transfer-Encoding: xchunked"), {})),
        ("chunked, never finished", lambda: (raw(github, unsigned(), framing="chunked")[:-5], {"timeout": 4, "half_close": True})),
        ("Content-Length over the body, client gone", lambda: (raw(github, unsigned()).replace(b"Content-Length: ", b"Content-Length: 9000\r\nX-Was: ", 1), {"timeout": 4, "half_close": True})),
        ("r-small: Content-Length over max, no body", lambda: (build("POST", "/r-small", [(b"Content-Type", b"application/json")], b"", framing="none").replace(b"\r\n\r\n", b"\r\nContent-Length: 2000\r\n\r\n"), {"timeout": 3})),
        ("r-small: chunked over max", lambda: (build("POST", "/r-small", [(b"Content-Type", b"application/json")], b"[" + b" " * 3000 + b"]", framing="chunked"), {})),
        ("absolute-form target", lambda: (raw(github, unsigned()).replace(b"POST /r-github", b"POST http://evil.example/r-github", 1), {})),
        ("asterisk target", lambda: (raw(github, unsigned()).replace(b"POST /r-github", b"POST *", 1), {})),
        ("HTTP/2.0 version", lambda: (raw(github, unsigned(), version=b"HTTP/2.0"), {})),
        ("HTTP/0.9 style", lambda: (b"POST /r-github\r\n\r\n", {"timeout": 3})),
        ("TLS ClientHello", lambda: (bytes.fromhex("16030100a5010000a10303") + b"\x00" * 64, {"timeout": 2})),
        ("no Host header", lambda: (build("POST", "/r-github", [], b"{}", host=False), {})),
    ]
    for path in ("/r-github%00", "/../r-github", "/r-github/../r-github", "//r-github", "/R-GITHUB",
                 "/%72-github", "/r-github;x", "/r-github/extra", "/\xff", "/_health/../r-github",
                 "/" + "a" * 5000, "/%2e%2e/r-github"):
        cases.append((f"path {path[:30]!r}", lambda p=path: (raw(github, unsigned()).replace(b"/r-github", p.encode("latin-1"), 1), {})))
    for body in NASTY_BODIES:
        cases.append((f"unsigned body {body[:20]!r}", lambda b=body: (raw(github, Request(
            "POST", "/r-github", unsigned().headers, b)), {})))
    return cases


#: cases whose failure is a known airhook issue (see known_issues.py), by case name
CASE_KNOWN: dict[str, str] = {}  # e.g. {"chunk size not hex": "K4-..."} while K4 was open
CASES = _cases()


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_malformed_requests(server: FunctionServer, airflow: Airflow, index: int) -> None:
    name, make = CASES[index]
    data, kwargs = make()
    before = len(airflow.runs)
    response = send(server.port, data, **{"timeout": 8, **kwargs})
    known = CASE_KNOWN.get(name)
    expect_no_5xx(response, name, known)
    if (name.startswith("r-small") or name.startswith("Content-Length 10**20")) and not (
            known and response.status is None):
        assert response.status == 413, response.data[:300]
    if name.startswith("chunk") and not known:
        assert response.status in (400, None), response.data[:300]
    new = airflow.runs[before:]
    if name == "duplicate signature, bad last" or name == "obs-fold signature":
        return  # a valid signature is on the wire: either answer is acceptable
    assert not new, f"{name}: triggered {new}"


# ------------------------------------------------------------------------------------ hypothesis sample

raw_requests = st.tuples(
    st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "HEAD", "OPTIONS"]),
    st.sampled_from(["/r-github", "/r-stripe", "/r-token", "/r-twilio-form", "/r-google-oidc", "/r-nope",
                     "/_health", "/r-small", "/"]),
    st.lists(st.tuples(st.sampled_from(["X-Hub-Signature-256", "Stripe-Signature", "Authorization",
                                        "X-Twilio-Signature", "Content-Type", "X-GitHub-Event",
                                        "X-GitHub-Delivery", "X-Forwarded-Host", "X-Custom"]),
                       st.sampled_from([v for v in NASTY_HEADER_VALUES if "\r" not in v and "\n" not in v
                                        and max(map(ord, v or " ")) < 256])
                       | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)),
             max_size=6),
    st.sampled_from(NASTY_BODIES[:-1]) | st.binary(max_size=300),
    st.sampled_from(["length", "chunked", "none"]),
)


@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None, derandomize=not figures.LONG,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(case=raw_requests)
def test_random_raw_requests(server: FunctionServer, airflow: Airflow,
                             case: tuple[str, str, list[tuple[str, str]], bytes, str]) -> None:
    method, path, headers, body, framing = case
    before = len(airflow.runs)
    data = build(method, path, [(k, v.encode("latin-1")) for k, v in headers], body,
                 framing=framing if method == "POST" else "length")
    response = send(server.port, data, timeout=8)
    expect_no_5xx(response, repr(case)[:300])
    assert len(airflow.runs) == before


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    figures.record(SUITE, cases=COUNTS["cases"], positive_controls=COUNTS["positive_controls"],
                   statuses=dict(STATUSES), known_issue_cases=dict(KNOWN))

