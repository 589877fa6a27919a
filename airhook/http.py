"""The Flask side: read a request into the pipeline, write its answer back. Nothing else here
knows about Flask."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import flask

from . import config as config_module
from . import logs
from .errors import ConfigError, MalformedRequest, PayloadTooLarge
from .receiver import MIN_OPERATOR_TOKEN, Receiver
from .responses import Response

if TYPE_CHECKING:  # the deliver target imports it on its first message
    from .deliver import Deliverer

_deliverers: dict[int, Deliverer] = {}
_deliverers_lock = threading.Lock()

_CHUNK = 1 << 20
#: The environment variable holding the operator token (a secret: set it from Secret Manager).
OPERATOR_TOKEN_ENV = "AIRHOOK_OPERATOR_TOKEN"

#: A refused body (413, 404, 405) with a declared length up to this is read and discarded after
#: the answer is written, in reads of at most 1 MiB (never held): a client without
#: ``Expect: 100-continue`` (Python's http.client, many senders' HTTP libraries) sends the whole
#: body before it reads anything, so closing early hands it a broken pipe instead of the 413.
#: 32 MiB covers GitHub's 25 MiB cap and a sender that overshoots a lowered limit; it is about the
#: cost of a body airhook accepts, without the memory. Longer bodies, and chunked ones (no declared
#: length), are answered at once and the connection closed: that client may see a reset.
DRAIN_MAX_BYTES = 32 * 1024 * 1024
#: ...and for at most this long, so a slow client cannot hold a thread.
DRAIN_SECONDS = 5.0
_DRAIN_READ = 1 << 20


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


def drain(stream: Any, length: int | None, sock: Any = None, *, max_bytes: int = DRAIN_MAX_BYTES,
          seconds: float = DRAIN_SECONDS) -> bool:
    """Read and discard an unread body whose declared ``length`` is at most ``max_bytes``, for at
    most ``seconds``. ``sock`` (gunicorn's, when known) bounds each read by the time left: a read
    blocks until data comes. True when the body was read to the end."""
    if length is None or length > max_bytes:
        return False
    timeout = sock.gettimeout() if sock is not None else None
    deadline = time.monotonic() + seconds
    left = length
    try:
        while left > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if sock is not None:
                sock.settimeout(remaining)
            chunk = stream.read(min(_DRAIN_READ, left))
            if not chunk:
                return False
            left -= len(chunk)
    except Exception:  # a client gone, too slow or a body cut short: close without more
        return False
    finally:
        if sock is not None:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass
    return left == 0


def to_flask(response: Response) -> flask.Response:
    headers = {"Cache-Control": "no-store", **response.headers}
    content = (response.content if response.content is not None
               else json.dumps(response.body, separators=(",", ":")))
    return flask.Response(content, status=response.status, headers=headers, mimetype=response.media_type)


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
        # A refused body (413, 404, 405, unreadable) is not buffered: functions-framework's
        # after_request hook calls get_data(), which returns this instead of reading to the end, and
        # closing the connection keeps gunicorn from draining the rest before the next request.
        request._cached_data = b""
        # Lingering close: once the answer is written (gunicorn closes the response, then the
        # connection), a bounded body is discarded, so a client still sending finishes and reads
        # the answer already waiting for it; a client that waits gets it at once.
        stream, length = request.stream, request.content_length
        sock = request.environ.get("gunicorn.socket")
        response.call_on_close(lambda: drain(stream, length, sock))
        response.headers["Connection"] = "close"
    return response


def operator_token(environ: Mapping[str, str]) -> str | None:
    """``$AIRHOOK_OPERATOR_TOKEN``: the token that enables dry runs (docs/security.md); unset or
    empty, dry runs are refused.

    Raises:
        ConfigError: a token shorter than 16 characters.
    """
    token = environ.get(OPERATOR_TOKEN_ENV) or None
    if token is not None and len(token) < MIN_OPERATOR_TOKEN:
        raise ConfigError(f"{OPERATOR_TOKEN_ENV}: at least {MIN_OPERATOR_TOKEN} characters")
    return token


def receiver_from_environment() -> Receiver:
    """Build the instance's Receiver from ``$AIRHOOK_CONFIG``. A bad config ends the process with
    one clear log line (the deployment then fails to start, which is the loudest signal)."""
    try:
        return Receiver(config_module.load(config_module.default_path()),
                        operator_token=operator_token(os.environ))
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


__all__ = ["deliver_event", "deliverer_for", "drain", "handle", "operator_token", "receiver_from_environment",
           "read_limited", "to_flask"]


