"""A loopback HTTP server that records requests and answers from a script.

Used only where the real thing cannot run here (Google's token endpoint, Composer's Airflow) or
cannot be made to answer a given way on demand (an Airflow 500 or 429). Real Airflow is in
tests/integration.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, Any]  # (status, JSON-able body)
Handler = Callable[[Recorded], Answer]


class StubServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Recorded] = []
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real server

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(self.command, self.path,
                                    {k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(length))
                stub.requests.append(recorded)
                status, body = stub.handler(recorded)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to report

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]


@contextmanager
def stub_server(handler: Handler) -> Iterator[StubServer]:
    server = StubServer(handler).start()
    try:
        yield server
    finally:
        server.stop()


def scripted(*answers: Answer, default: Answer = (200, {})) -> Handler:
    """Answer requests with ``answers`` in order, then ``default``."""
    queue = list(answers)
    lock = threading.Lock()

    def handler(_: Recorded) -> Answer:
        with lock:
            return queue.pop(0) if queue else default
    return handler
