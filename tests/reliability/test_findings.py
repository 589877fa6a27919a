"""One minimal reproducer per finding of the reliability suites.

Fixed findings (F1-F7; K6 and K7 became F6 and F7) are ordinary regression tests. Open ones
(known_issues.py) are strict xfails: when the fix lands the test passes, strict turns that into a
failure, and the issue's entry and its ``xfail`` mark are deleted together."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airhook.airflow.client import AirflowClient
from airhook.config import AirflowConfig, AuthConfig
from airhook.errors import AirflowAuthError
from airhook.routing import Trigger
from tests.stubs import Recorded, stub_server
from tools import procfs
from tools.function_server import FunctionServer

from .harness import NOW, Harness
from .known_issues import KNOWN_ISSUES
from .profiles import PROFILES
from .rawhttp import build, send

ISSUES = {issue.id: issue for issue in KNOWN_ISSUES}


def xfail(issue_id: str) -> pytest.MarkDecorator:
    issue = ISSUES[issue_id]
    return pytest.mark.xfail(strict=True, reason=f"{issue_id}: {issue.title} -- fix: {issue.fix}")


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000])
def test_f1_odd_content_length_is_not_a_500(harness: Harness, length: str) -> None:
    response = harness.receiver.handle("POST", "/r-github", {"content-length": length}, lambda n: b"{}")
    assert response.status < 500


def test_f2_lone_surrogate_delivery_id_is_not_a_500(harness: Harness) -> None:
    profile = PROFILES["r-stripe"]
    body = json.dumps({"id": "evt_\ud800", "type": "invoice.paid"}).encode()
    response = harness.handle(profile.build("x", NOW, body=body))
    assert response.status == 400 and response.body["message"] == "delivery id is not valid text"


def test_f3_route_errors_do_not_log_payload_values() -> None:
    from .test_bad_input import ROUTING_DOCUMENT

    harness = Harness(ROUTING_DOCUMENT)
    body = json.dumps({"action": "typed", "x": "PAYLOAD-VALUE-1234", "tags": []}).encode()
    response = harness.handle(PROFILES["r-token"].build("x", NOW, body=body))
    assert response.status == 422
    assert "PAYLOAD-VALUE-1234" not in harness.buffer.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[FunctionServer]:
    document = {"airflow": {"url": "http://127.0.0.1:9", "api": "v2"},
                "sources": {"small": {"type": "github", "secrets": ["k-secret-value"], "max_body_bytes": 1024}},
                "routes": [{"name": "r", "source": "small", "dag_id": "d"}]}
    with FunctionServer(json.dumps(document)) as fn:
        yield fn


def test_f4_unreadable_chunked_body_is_a_400(server: FunctionServer) -> None:
    data = (b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    assert send(server.port, data, timeout=5).status == 400


def test_f5_oversized_content_length_is_refused_at_once(server: FunctionServer) -> None:
    data = build("POST", "/small", [("Content-Type", "application/json")], b"", framing="none")
    data = data.replace(b"\r\n\r\n", b"\r\nContent-Length: 100000000000000000000\r\n\r\n")
    response = send(server.port, data, timeout=3)
    assert response.status == 413


# ------------------------------------------------------------------------------------ Airflow JWT


def jwt(lifetime: int) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    now = int(time.time())
    return f"{part({'alg': 'HS512'})}.{part({'iat': now, 'exp': now + lifetime, 'sub': 'admin'})}.sig"


TRIGGER = Trigger(route="r", dag_id="d", dag_run_id="run-1", conf={})


def client_for(url: str) -> AirflowClient:
    return AirflowClient(AirflowConfig(url=url, api="v2", auth=AuthConfig("airflow-jwt", username="u",
                                                                           password="p")))


def test_k6_a_30s_token_is_fetched_once_for_several_triggers() -> None:
    def answer(request: Recorded) -> tuple[int, Any]:
        if request.path == "/auth/token":
            return 201, {"access_token": jwt(30)}
        return 200, {"state": "queued"}

    with stub_server(answer) as stub:
        client = client_for(stub.url)
        for _ in range(5):
            client.trigger(TRIGGER)
        assert stub.paths("POST").count("/auth/token") == 1


def test_k7_a_403_invalid_jwt_is_refreshed_once() -> None:
    state = {"secret_rotated": True}

    def answer(request: Recorded) -> tuple[int, Any]:
        if request.path == "/auth/token":
            state["secret_rotated"] = False
            return 201, {"access_token": jwt(3600)}
        if state["secret_rotated"]:
            return 403, {"detail": "Invalid JWT token"}
        return 200, {"state": "queued"}

    with stub_server(answer) as stub:
        client = client_for(stub.url)
        client.trigger(TRIGGER)             # first token
        state["secret_rotated"] = True      # Airflow restarted with a new JWT secret
        try:
            outcome = client.trigger(TRIGGER)
        except AirflowAuthError as exc:
            pytest.fail(f"502 airflow_auth_failed: {exc.detail}")
        assert outcome.status == "queued"


def test_f5_a_refused_chunked_body_is_not_buffered(server: FunctionServer) -> None:
    """300 MB chunked to a 1 KB source: 413, and the worker does not grow by the body's size."""
    import socket

    worker = server.worker_pid()

    def rss_kb() -> int:
        return procfs.status_kb(worker, "VmHWM")

    before = rss_kb()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"100000\r\n" + b"a" * (1 << 20) + b"\r\n"
        try:
            for _ in range(300):
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered 413 and closed: what we want
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert rss_kb() - before < 64 * 1024, f"worker peak RSS grew {rss_kb() - before} kB"
