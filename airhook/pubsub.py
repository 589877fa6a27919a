"""Pub/Sub's REST API over keep-alive connections (:mod:`airhook.httpconn`): publish (``receive`` and ``deliver``),
pull and acknowledge (``redrive``).

REST rather than ``google-cloud-pubsub``: that client imports gRPC and protobuf, several hundred
milliseconds on every cold start (``bench/durable.py imports`` measures both), for one small POST per
delivery. google-auth is imported on the first request that needs a token, so the direct mode and
the emulator never load it. Tokens are refreshed by :mod:`airhook.authorized`, retries paced by
:mod:`airhook.backoff`, as for Airflow.

``PUBSUB_EMULATOR_HOST=127.0.0.1:8085`` (the variable Google's client libraries honour) sends every
call to the emulator in plain HTTP without credentials.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .authorized import AuthorizedHttp, Credentials, GoogleCredentials, StaticCredentials
from .backoff import Backoff, retry_until
from .errors import QueueUnavailable
from .httpconn import Http, Unreachable

API_ROOT = "https://pubsub.googleapis.com"
PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
#: Pub/Sub refuses a publish request over 10 MB; data travels base64-encoded inside JSON.
MAX_PUBLISH_BYTES = 10_000_000
#: Pub/Sub's limit on one attribute value (bytes).
MAX_ATTRIBUTE_BYTES = 1024
#: Statuses worth another attempt within the caller's time budget.
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
#: Retries of one call: short pauses, as the caller's whole budget is a few seconds.
_BACKOFF = Backoff(first=0.05, maximum=1.0, min_attempt=0.1)
_JSON_HEADERS = {"Content-Type": "application/json"}


class _Transient(QueueUnavailable):
    """No answer, or one worth another attempt (408, 429, 5xx)."""


@dataclass(frozen=True)
class Message:
    """A message to publish: raw ``data`` and string ``attributes``."""

    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"data": base64.b64encode(self.data).decode("ascii"),
                "attributes": dict(self.attributes)}


@dataclass(frozen=True)
class Received:
    """A pulled message and the id to acknowledge it with."""

    ack_id: str
    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    publish_time: str = ""


def attribute(value: object) -> str:
    """``value`` as an attribute value: a string of at most 1,024 UTF-8 bytes (Pub/Sub refuses
    longer ones, and an event name or an Airflow error message has no length limit of its own)."""
    text = str(value)
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_ATTRIBUTE_BYTES:
        return text
    return encoded[:MAX_ATTRIBUTE_BYTES - 3].decode("utf-8", "ignore") + "..."


class PubSub:
    """One per instance. Every failure is a :class:`QueueUnavailable` whose detail names the cause.

    Args:
        timeout: seconds for one call, retries of transient failures included.
        environ: where ``PUBSUB_EMULATOR_HOST`` is read (the process environment by default).
        credentials: google-auth credentials; default: Application Default Credentials, made on
            the first call that needs them.
    """

    def __init__(self, *, timeout: float = 5.0, environ: Mapping[str, str] | None = None,
                 pool: Http | None = None, credentials: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        environ = os.environ if environ is None else environ
        emulator = environ.get("PUBSUB_EMULATOR_HOST", "").strip()
        self.emulated = bool(emulator)
        self.root = f"http://{emulator}" if emulator else API_ROOT
        self.timeout = timeout
        # Sized like the Airflow pool: one connection per functions-framework thread.
        self._pool = pool if pool is not None else Http()
        auth: Credentials = StaticCredentials() if self.emulated else GoogleCredentials(
            [PUBSUB_SCOPE], self._pool, unavailable=QueueUnavailable, refused=QueueUnavailable,
            credentials=credentials)
        # A revoked or expired token is refreshed once on a 401.
        self._http = AuthorizedHttp(self._pool, auth)
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"PubSub(root={self.root!r})"

    # -------------------------------------------------------------------------------- API

    def publish(self, topic: str, messages: Sequence[Message], *,
                timeout: float | None = None) -> list[str]:
        """Publish ``messages`` in one request (all or none) and return their message ids, which
        exist only once Pub/Sub has stored the messages.

        Raises:
            QueueUnavailable: no acknowledgement within ``timeout`` seconds.
        """
        if not messages:
            return []
        reply = self._call(f"{topic}:publish", {"messages": [m.to_json() for m in messages]},
                           timeout)
        ids = reply.get("messageIds") if isinstance(reply, dict) else None
        if not isinstance(ids, list) or len(ids) != len(messages):
            raise QueueUnavailable(f"publish to {topic}: answer without {len(messages)} message ids")
        return [str(i) for i in ids]

    def pull(self, subscription: str, max_messages: int = 100, *,
             timeout: float | None = None) -> list[Received]:
        """Up to ``max_messages`` messages from a pull subscription: maybe fewer, maybe none even
        when some remain (callers pull again). ``returnImmediately`` (discouraged by Google for
        high-throughput consumers, right for a one-shot command) keeps an empty subscription from
        holding the call open: the emulator would hold it indefinitely."""
        reply = self._call(f"{subscription}:pull",
                           {"maxMessages": max_messages, "returnImmediately": True}, timeout)
        received: list[Received] = []
        for item in (reply.get("receivedMessages") or []) if isinstance(reply, dict) else []:
            message = item.get("message", {})
            received.append(Received(
                ack_id=item["ackId"], message_id=str(message.get("messageId", "")),
                data=base64.b64decode(message.get("data", "")),
                attributes=dict(message.get("attributes") or {}),
                publish_time=str(message.get("publishTime", ""))))
        return received

    def acknowledge(self, subscription: str, ack_ids: Sequence[str], *,
                    timeout: float | None = None) -> None:
        if ack_ids:
            self._call(f"{subscription}:acknowledge", {"ackIds": list(ack_ids)}, timeout)

    def release(self, subscription: str, ack_ids: Sequence[str], *,
                timeout: float | None = None) -> None:
        """Give pulled messages back at once (an ack deadline of 0), for another pull to see."""
        if ack_ids:
            self._call(f"{subscription}:modifyAckDeadline",
                       {"ackIds": list(ack_ids), "ackDeadlineSeconds": 0}, timeout)

    # -------------------------------------------------------------------------------- HTTP

    def _call(self, resource: str, body: Mapping[str, Any], timeout: float | None) -> Any:
        """POST ``/v1/{resource}``; transient failures (no answer, 408, 429, 5xx) are retried with
        jittered backoff while ``timeout`` lasts. Publishing twice is harmless here: the run id
        inside the message makes a duplicate a 409 in Airflow."""
        budget = self.timeout if timeout is None else timeout
        url = f"{self.root}/v1/{resource}"
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        what = f"POST {resource.rsplit(':', 1)[-1]} {resource.rsplit(':', 1)[0]}"

        def attempt(left: float) -> Any:
            try:
                reply = self._http.request("POST", url, body=data, headers=_JSON_HEADERS, timeout=left)
            except Unreachable as exc:
                raise _Transient(f"{what}: {exc}") from None
            if 200 <= reply.status < 300:
                try:
                    return json.loads(reply.body or b"{}")
                except ValueError:
                    raise QueueUnavailable(f"{what}: answered {reply.status} with invalid JSON") from None
            failure = f"{what}: answered {reply.status}: {_message(reply.body)}"
            if reply.status in _TRANSIENT:
                raise _Transient(failure)
            # 400 (bad request), 403 (no permission), 404 (no such topic): retrying cannot help.
            raise QueueUnavailable(failure)

        try:
            return retry_until(attempt, deadline=self._clock() + budget, timeout=budget,
                               retryable=lambda exc: isinstance(exc, _Transient), policy=_BACKOFF,
                               clock=self._clock, sleep=self._sleep)
        except _Transient as exc:
            raise QueueUnavailable(f"{exc} (gave up after {budget:g}s)") from None


def _message(raw: bytes) -> str:
    """Google's error message (``{"error": {"message": ...}}``) or the start of the body."""
    try:
        data = json.loads(raw)
        return str(data["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return raw[:120].decode("utf-8", "replace")


__all__ = ["MAX_PUBLISH_BYTES", "Message", "PubSub", "Received", "attribute"]
