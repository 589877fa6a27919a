"""An Airflow stand-in for the benchmark: a small threaded HTTPS server that answers at once.

* ``POST /api/v{1,2}/dags/{dag_id}/dagRuns`` -> 200 ``{"state": "queued", ...}`` (echoing the run id)
* ``GET /api/v{1,2}/version``                -> 200 ``{"version": ...}``
* ``POST /auth/token``                        -> 201 ``{"access_token": ...}``
* ``GET /_stats``                             -> the counters below, as JSON (not counted)

HTTP/1.1 with keep-alive, parsed by hand (a few lines) rather than with ``http.server``, whose
header parsing would make the stand-in the most expensive process in the room. One thread per
connection; the TLS handshake runs in that thread, never in the accept loop. Run it in its own
process (``python bench/standin.py --cert C --key K``): it prints ``{"port": N, "pid": P}`` on its
first line of stdout once it listens, and exits on SIGTERM or SIGINT.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is sys.path[0]: never let a module there shadow the standard library.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import socketserver  # noqa: E402
import ssl  # noqa: E402
import threading  # noqa: E402
from typing import Any  # noqa: E402

VERSION_REPLY = json.dumps({"version": "3.3.2", "git_version": None}).encode()
TOKEN_REPLY = json.dumps({"access_token": "standin.token.x", "token_type": "Bearer"}).encode()
_REASONS = {200: b"OK", 201: b"Created", 400: b"Bad Request", 404: b"Not Found"}
_MAX_LINE = 16384


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, int] = {"dag_runs": 0, "version": 0, "token": 0, "other": 0,
                                       "connections": 0, "handshake_errors": 0, "authorized": 0}

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.values[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.values)


COUNTERS = Counters()


def _run_reply(target: bytes, body: bytes) -> bytes:
    parts = target.split(b"/")  # ['', 'api', 'v2', 'dags', dag_id, 'dagRuns']
    try:
        request: Any = json.loads(body) if body else {}
    except ValueError:
        request = {}
    run_id = request.get("dag_run_id") if isinstance(request, dict) else None
    return json.dumps({"dag_id": parts[4].decode("utf-8", "replace"), "dag_run_id": run_id,
                       "state": "queued", "run_type": "manual", "logical_date": None,
                       "conf": request.get("conf") if isinstance(request, dict) else None}).encode()


def answer(method: bytes, target: bytes, body: bytes, authorized: bool) -> tuple[int, bytes]:
    path = target.split(b"?", 1)[0]
    if method == b"POST" and path.startswith(b"/api/") and path.endswith(b"/dagRuns"):
        COUNTERS.add("dag_runs")
        if authorized:
            COUNTERS.add("authorized")
        return 200, _run_reply(path, body)
    if method == b"GET" and path in (b"/api/v2/version", b"/api/v1/version"):
        COUNTERS.add("version")
        return 200, VERSION_REPLY
    if method == b"POST" and path == b"/auth/token":
        COUNTERS.add("token")
        return 201, TOKEN_REPLY
    if method == b"GET" and path == b"/_stats":
        return 200, json.dumps(COUNTERS.snapshot()).encode()
    COUNTERS.add("other")
    return 404, b'{"detail":"Not Found"}'


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: ssl.SSLSocket = self.request
        try:
            sock.do_handshake()
        except (OSError, ssl.SSLError):
            COUNTERS.add("handshake_errors")
            return
        COUNTERS.add("connections")
        sock.settimeout(self.server.idle_timeout)  # type: ignore[attr-defined]
        rfile = sock.makefile("rb", buffering=65536)
        try:
            while self._one(sock, rfile):
                pass
        except (OSError, ValueError):
            pass  # the client went away, or idled out
        finally:
            rfile.close()

    def _one(self, sock: ssl.SSLSocket, rfile: Any) -> bool:
        line = rfile.readline(_MAX_LINE)
        if not line:
            return False
        parts = line.split()
        if len(parts) != 3:
            return False
        method, target, version = parts
        keep_alive = version == b"HTTP/1.1"
        length = 0
        authorized = False
        while True:
            header = rfile.readline(_MAX_LINE)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                token = value.strip().lower()
                keep_alive = token == b"keep-alive" or (keep_alive and token != b"close")
            elif name == b"authorization":
                authorized = bool(value.strip())
            elif name == b"transfer-encoding":
                sock.sendall(b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return False
        body = rfile.read(length) if length else b""
        status, payload = answer(method, target, body, authorized)
        head = (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                % (status, _REASONS.get(status, b"OK"), len(payload),
                   b"" if keep_alive else b"Connection: close\r\n"))
        sock.sendall(head + payload)
        return keep_alive


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, idle_timeout: float) -> None:
        self.context = context
        self.idle_timeout = idle_timeout
        super().__init__(address, Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the stand-in only listens on the loopback")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    server = Server((args.host, args.port), context, args.idle_timeout)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"port": server.server_address[1], "pid": os.getpid()}), flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
