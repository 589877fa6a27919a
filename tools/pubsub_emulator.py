"""The real Pub/Sub emulator (``gcloud beta emulators pubsub start``) on 127.0.0.1, for the
integration tests and ``bench/durable.py``. Standard library only.

    with PubSubEmulator() as emulator:
        topic = emulator.create_topic("airhook-deliveries")
        emulator.create_push_subscription("airhook-deliver", topic, "http://127.0.0.1:8081/")

The gcloud wrapper starts a Java child: both run in their own process group, which :meth:`stop`
signals (never processes by name). Facts about the emulator's behaviour that tests rely on (seen
here): without a ``retryPolicy`` it redelivers a failed push about every second; with one and
several failing messages it stalls, so tests leave it off.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.ports import free_port
from tools.processes import kill_tree, tail

GCLOUD = os.environ.get("AIRHOOK_GCLOUD") or shutil.which("gcloud") or "/usr/bin/gcloud"
#: Java starts in ~2 s on an idle machine; allow for a busy CI host.
START_TIMEOUT = 90.0


class EmulatorError(RuntimeError):
    pass


class PubSubEmulator:
    """One emulator process group. ``host`` is what ``PUBSUB_EMULATOR_HOST`` takes."""

    def __init__(self, project: str = "airhook-test", port: int | None = None) -> None:
        self.project = project
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.workdir = Path(tempfile.mkdtemp(prefix="airhook-pubsub-"))
        self.log_path = self.workdir / "emulator.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -------------------------------------------------------------------------------- process

    def start(self, timeout: float = START_TIMEOUT) -> PubSubEmulator:
        if not Path(GCLOUD).exists() and shutil.which(GCLOUD) is None:
            raise EmulatorError(f"gcloud not found ({GCLOUD}); the Pub/Sub emulator comes with it")
        (self.workdir / "data").mkdir(exist_ok=True)  # gcloud writes its env.yaml there
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [GCLOUD, "beta", "emulators", "pubsub", "start", f"--host-port={self.host}",
             f"--project={self.project}", f"--data-dir={self.workdir / 'data'}", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own group: the Java child is stopped with it
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmulatorError(f"the emulator exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise EmulatorError(f"the emulator did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_tree(proc, grace=10.0)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> PubSubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)

    # -------------------------------------------------------------------------------- REST

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        """``/v1/<path>``; raises EmulatorError on a non-2xx answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/v1/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise EmulatorError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from None
        return json.loads(raw) if raw.strip() else {}

    def topic(self, name: str) -> str:
        return f"projects/{self.project}/topics/{name}"

    def subscription(self, name: str) -> str:
        return f"projects/{self.project}/subscriptions/{name}"

    def create_topic(self, name: str) -> str:
        path = self.topic(name)
        self.call("PUT", path, {})
        return path

    def create_pull_subscription(self, name: str, topic: str, ack_deadline: int = 30) -> str:
        path = self.subscription(name)
        self.call("PUT", path, {"topic": topic, "ackDeadlineSeconds": ack_deadline})
        return path

    def create_push_subscription(self, name: str, topic: str, endpoint: str, *,
                                 dead_letter_topic: str | None = None,
                                 max_delivery_attempts: int = 10,
                                 ack_deadline: int = 30) -> str:
        """A push subscription without a retryPolicy (see the module docstring)."""
        path = self.subscription(name)
        body: dict[str, Any] = {"topic": topic, "pushConfig": {"pushEndpoint": endpoint},
                                "ackDeadlineSeconds": ack_deadline}
        if dead_letter_topic is not None:
            body["deadLetterPolicy"] = {"deadLetterTopic": dead_letter_topic,
                                        "maxDeliveryAttempts": max_delivery_attempts}
        self.call("PUT", path, body)
        return path

    def set_push_endpoint(self, path: str, endpoint: str | None) -> None:
        """Turn a subscription into a push one to ``endpoint``, or back into a pull one (None)."""
        self.call("POST", f"{path}:modifyPushConfig",
                  {"pushConfig": {"pushEndpoint": endpoint} if endpoint else {}})

    def delete_subscription(self, path: str) -> None:
        self.call("DELETE", path)

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str] | None = None) -> str:
        reply = self.call("POST", f"{topic}:publish", {"messages": [
            {"data": base64.b64encode(data).decode(), "attributes": dict(attributes or {})}]})
        return str(reply["messageIds"][0])

    def pull(self, subscription: str, max_messages: int = 100, *, ack: bool = True) -> list[dict[str, Any]]:
        """Pulled messages as ``{"message_id", "data" (bytes), "attributes"}``; acknowledged unless
        ``ack`` is False."""
        # returnImmediately: without it the emulator holds an empty pull open indefinitely.
        reply = self.call("POST", f"{subscription}:pull",
                          {"maxMessages": max_messages, "returnImmediately": True})
        items = reply.get("receivedMessages") or []
        if ack and items:
            self.call("POST", f"{subscription}:acknowledge", {"ackIds": [i["ackId"] for i in items]})
        return [{"message_id": i["message"].get("messageId"),
                 "data": base64.b64decode(i["message"].get("data", "")),
                 "attributes": i["message"].get("attributes", {})} for i in items]

    def drain(self, subscription: str, *, settle: float = 1.0, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Pull and acknowledge until ``settle`` seconds pass without a message (or ``timeout``)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < settle:
            batch = self.pull(subscription)
            if batch:
                found.extend(batch)
                quiet_since = time.monotonic()
            else:
                time.sleep(0.1)
        return found

