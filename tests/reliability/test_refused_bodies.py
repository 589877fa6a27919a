"""Issue 11.8: a refused body's 413 reaches a client that sends the whole body before reading.

Through the real server (functions-framework, i.e. gunicorn) with Python's http.client, which does
not send ``Expect: 100-continue``: it writes all 26 MiB, then reads. airhook answers at once, then
discards a refused body of declared length up to ``airhook.http.DRAIN_MAX_BYTES`` (32 MiB) in 1 MiB
reads for up to ``DRAIN_SECONDS`` before closing, so the client's writes complete and it reads the
413; a longer body is not drained.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from airhook.http import DRAIN_MAX_BYTES
from tools import procfs
from tools.function_server import FunctionServer

from . import figures

MIB = 1 << 20


@pytest.fixture(scope="module")
def server() -> Iterator[FunctionServer]:
    document = {"airflow": {"url": "http://127.0.0.1:9", "api": "v2"},
                "sources": {"gh": {"type": "github", "secrets": ["k-secret-value"]},
                            "small": {"type": "github", "secrets": ["k-secret-value"], "max_body_bytes": 1024}},
                "routes": [{"name": "r", "source": "gh", "dag_id": "d"}]}
    with FunctionServer(json.dumps(document)) as fn:
        yield fn


def _post(port: int, path: str, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = json.loads(response.read())
        assert payload["error"] in ("payload_too_large", "unknown_source"), payload
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize("path, size, status", [
    ("/gh", 26 * MIB, 413),          # 1 MiB over GitHub's cap, the default limit
    ("/small", 5 * MIB, 413),        # far over a lowered limit
    ("/nowhere", 3 * MIB, 404),      # no source: refused before reading, drained all the same
])
def test_http_client_reads_the_refusal(server: FunctionServer, path: str, size: int, status: int) -> None:
    body = b"x" * size
    worker = server.worker_pid()
    peak_before = procfs.status_kb(worker, "VmHWM")
    cpu = procfs.cpu_seconds(worker)
    started = time.monotonic()
    rounds = 3
    for _ in range(rounds):
        assert _post(server.port, path, body) == status
    figures.record("refused_bodies", **{f"{path}-{size // MIB}MiB": {
        "worker_cpu_ms_per_request": round((procfs.cpu_seconds(worker) - cpu) / rounds * 1000, 1),
        "wall_ms_per_request": round((time.monotonic() - started) / rounds * 1000, 1),
        "worker_peak_rss_growth_mib": round((procfs.status_kb(worker, "VmHWM") - peak_before) / 1024, 1)}})
    # Discarded, not buffered: the worker does not grow by the body's size.
    assert procfs.status_kb(worker, "VmHWM") - peak_before < 16 * 1024


def test_a_body_over_the_drain_bound_is_answered_at_once(server: FunctionServer) -> None:
    """Content-Length over the bound, and only 1 MiB sent: the 413 comes without waiting for the rest."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (DRAIN_MAX_BYTES + 1) + b"x" * MIB)
        started = time.monotonic()
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 2


def test_a_stalled_body_is_answered_at_once_and_closed_after_the_drain_time(server: FunctionServer) -> None:
    """26 MiB declared, 1 MiB sent, then nothing: the 413 comes at once (the drain runs after the
    answer is written), and the connection is closed when the drain time runs out."""
    from airhook.http import DRAIN_SECONDS

    with socket.create_connection(("127.0.0.1", server.port), timeout=DRAIN_SECONDS + 10) as sock:
        sock.sendall(b"POST /gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (26 * MIB) + b"x" * MIB)
        started = time.monotonic()
        answer = sock.recv(200)
        assert time.monotonic() - started < 2
        while sock.recv(4096):
            pass
        held = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert held < DRAIN_SECONDS + 3
