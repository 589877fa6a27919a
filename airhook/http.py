"""The Flask side: read a request into the pipeline, write its answer back. Nothing else here
knows about Flask."""

from __future__ import annotations

import json

import flask

from . import config as config_module
from . import logs
from .errors import ConfigError, PayloadTooLarge
from .receiver import Receiver, Response

_CHUNK = 1 << 20


def read_limited(request: flask.Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes whether or not Content-Length was sent
    (chunked bodies have none)."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"Content-Length {length} > {limit}")
    stream = request.stream
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def to_flask(response: Response) -> flask.Response:
    headers = {"Cache-Control": "no-store", **response.headers}
    return flask.Response(json.dumps(response.body, separators=(",", ":")), status=response.status,
                          headers=headers, mimetype="application/json")


def handle(receiver: Receiver, request: flask.Request) -> flask.Response:
    headers = {key.lower(): value for key, value in request.headers.items()}
    response = receiver.handle(request.method, request.path, headers,
                               lambda limit: read_limited(request, limit),
                               query=request.query_string.decode("latin-1"), url=request.url)
    return to_flask(response)


def receiver_from_environment() -> Receiver:
    """Build the instance's Receiver from ``$AIRHOOK_CONFIG``. A bad config ends the process with
    one clear log line (the deployment then fails to start, which is the loudest signal)."""
    try:
        return Receiver(config_module.load(config_module.default_path()))
    except ConfigError as exc:
        logs.emit("CRITICAL", f"airhook cannot start: {exc.detail}", error="config_error")
        raise SystemExit(3) from None


__all__ = ["handle", "receiver_from_environment", "read_limited", "to_flask"]


