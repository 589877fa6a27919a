"""Structured log lines that Cloud Logging reads: one JSON object per line on stdout, with
``severity`` and ``message`` as its special fields. Secrets and payloads are never passed here."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

_write_lock = threading.Lock()


def emit(severity: str, message: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one log line. Fields with None values are left out."""
    record = {"severity": severity, "message": message}
    record.update((k, v) for k, v in fields.items() if v is not None)
    line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
    out = stream if stream is not None else sys.stdout
    with _write_lock:  # lines from concurrent threads must not interleave
        out.write(line)
        out.flush()


class Throttle:
    """Allows one event per key per ``interval`` seconds: during an outage every delivery fails
    the same way, and the cause is worth one line a minute, not one per delivery."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                return False
            self._last[key] = now
            return True
