"""The Flask side: read a request into the pipeline, write its answer back. Nothing else here
knows about Flask."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import flask

from . import config as config_module
from . import logs
from .errors import ConfigError, MalformedRequest, PayloadTooLarge
from .receiver import Receiver, Response

if TYPE_CHECKING:  # the deliver target imports it on its first message
    from .deliver import Deliverer

_deliverers: dict[int, Deliverer] = {}
_deliverers_lock = threading.Lock()

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
        try:
            chunk = stream.read(min(_CHUNK, limit + 1 - total))
        except Exception as exc:  # a bad chunk size, a body cut short, a client gone: its fault
            raise MalformedRequest(f"request body could not be read: {type(exc).__name__}",
                                   public="request body could not be read") from None
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
    read_all = False

    def read_body(limit: int) -> bytes:
        nonlocal read_all
        data = read_limited(request, limit)
        read_all = True
        return data

    response = to_flask(receiver.handle(request.method, request.path, headers, read_body,
                                        query=request.query_string.decode("latin-1"), url=request.url))
    if not read_all and (request.content_length or "chunked" in headers.get("transfer-encoding", "")):
        # A refused body (413, 404, 405, unreadable) must not be read after all: functions-framework's
        # after_request hook calls get_data(), which returns this instead of reading to the end, and
        # closing the connection keeps gunicorn from draining the rest before the next request.
        request._cached_data = b""  # type: ignore[attr-defined]
        response.headers["Connection"] = "close"
    return response


def receiver_from_environment() -> Receiver:
    """Build the instance's Receiver from ``$AIRHOOK_CONFIG``. A bad config ends the process with
    one clear log line (the deployment then fails to start, which is the loudest signal)."""
    try:
        return Receiver(config_module.load(config_module.default_path()))
    except ConfigError as exc:
        logs.emit("CRITICAL", f"airhook cannot start: {exc.detail}", error="config_error")
        raise SystemExit(3) from None


def deliverer_for(receiver: Receiver) -> Deliverer:
    """The instance's Deliverer for the ``deliver`` target: the receiver's config and Airflow
    client, so one instance holds one pool and one set of credentials. Built on first use, once:
    an instance that only receives never imports the queue modules."""
    with _deliverers_lock:
        deliverer = _deliverers.get(id(receiver))
        if deliverer is None:
            from .deliver import Deliverer
            deliverer = _deliverers[id(receiver)] = Deliverer(receiver.config, receiver.client)
        return deliverer


def deliver_event(deliverer: Deliverer, event: Any) -> None:
    """``deliver``'s Flask side: a CloudEvent in; returning acknowledges the message. A retry
    verdict becomes a 503 through ``abort`` (no traceback in the log): Pub/Sub push and Eventarc
    redeliver on any answer that is not 2xx."""
    # functions-framework drops the push envelope's deliveryAttempt when it builds the
    # CloudEvent; the raw body is still there to read it from.
    body = flask.request.get_json(silent=True) if flask.has_request_context() else None
    # The push's OIDC token: deliver checks it in code, whatever Cloud Run's IAM let through.
    authorization = flask.request.headers.get("Authorization") if flask.has_request_context() else None
    verdict = deliverer.handle_event(
        event.data, event_id=str(event["id"]), event_time=event.get("time"),
        delivery_attempt=body.get("deliveryAttempt") if isinstance(body, dict) else None,
        authorization=authorization)
    if not verdict.ack:
        flask.abort(503)


__all__ = ["deliver_event", "deliverer_for", "handle", "receiver_from_environment", "read_limited",
           "to_flask"]


