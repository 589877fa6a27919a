"""A load generator that behaves like webhook senders: C concurrent keep-alive connections deliver M
distinct deliveries, each sent 1 + R times (redeliveries, freshly signed, some of them concurrent
with their original), and any answer that is not 2xx (or no answer) is retried with backoff, as
Stripe, Shopify or Svix would, until it is 2xx or the delivery's retry budget is spent.

Every attempt is recorded; :class:`LoadResult` gives the figures (throughput, p50/p99, statuses)
and the run ids airhook reported.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .figures import percentile
from .profiles import Profile

#: Placed in every body the load generator sends: the log scans look for it.
LOAD_CANARY = "CNRY!load-" + uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Send:
    profile: Profile
    ident: str
    copy: int  # 0: the original delivery, 1..R: redeliveries


@dataclass
class Attempt:
    send: Send
    status: int | None  # None: no answer (connection refused, reset, timeout)
    latency_ms: float
    started: float
    body: dict[str, Any] | None = None
    retry_after: str | None = None
    error: str | None = None


@dataclass
class RetryPolicy:
    """Backoff ``min(first * 2**n, cap)`` with full jitter, at most ``attempts`` per send and
    ``budget`` seconds from the first attempt."""

    attempts: int = 1
    first: float = 0.5
    cap: float = 4.0
    budget: float = 120.0

    def pause(self, n: int, rng: random.Random) -> float:
        return rng.uniform(0.5, 1.0) * min(self.first * 2 ** n, self.cap)


@dataclass
class LoadResult:
    attempts: list[Attempt] = field(default_factory=list)
    elapsed: float = 0.0
    #: (ident, copy) -> final attempt
    final: dict[tuple[str, int], Attempt] = field(default_factory=dict)
    #: sends attempted that never got a 2xx
    unfinished: int = 0
    #: sends never attempted (the time limit came first)
    not_started: int = 0

    def statuses(self) -> Counter[str]:
        return Counter(str(a.status) if a.status is not None else f"no answer ({a.error})"
                       for a in self.attempts)

    def latencies(self, ok_only: bool = False) -> list[float]:
        return [a.latency_ms for a in self.attempts if not ok_only or (a.status or 0) // 100 == 2]

    def run_statuses(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for attempt in self.final.values():
            for run in (attempt.body or {}).get("runs", []) if attempt.status == 200 else []:
                counts[run.get("status", "?")] += 1
        return counts

    def figures(self, deliveries: int) -> dict[str, Any]:
        lat = self.latencies()
        return {
            "requests": len(self.attempts),
            "seconds": round(self.elapsed, 2),
            "requests_per_s": round(len(self.attempts) / self.elapsed, 1) if self.elapsed else None,
            "deliveries_per_s": round(deliveries / self.elapsed, 1) if self.elapsed else None,
            "latency_p50_ms": round(percentile(lat, 50), 1),
            "latency_p99_ms": round(percentile(lat, 99), 1),
            "latency_max_ms": round(max(lat), 1) if lat else None,
            "statuses": dict(self.statuses()),
            "run_statuses_in_answers": dict(self.run_statuses()),
            "sends_without_2xx": self.unfinished,
            "sends_not_started": self.not_started,
        }


def plan(deliveries: list[tuple[Profile, str]], redeliveries: int, seed: int,
         together: float = 0.2) -> list[Send]:
    """Every send, shuffled; a fraction ``together`` of the deliveries have all their copies
    adjacent, so that C workers send them at the same moment (near-simultaneous duplicates)."""
    rng = random.Random(seed)
    grouped: list[list[Send]] = []
    loose: list[Send] = []
    for index, (profile, ident) in enumerate(deliveries):
        copies = [Send(profile, ident, copy) for copy in range(1 + redeliveries)]
        if index < together * len(deliveries):
            grouped.append(copies)
        else:
            loose.extend(copies)
    rng.shuffle(loose)
    for group in grouped:
        at = rng.randint(0, len(loose))
        loose[at:at] = group
    return loose


def run(port: int, sends: list[Send], *, concurrency: int, retry: RetryPolicy, time_limit: float,
        seed: int = 0, on_progress: Callable[[int], None] | None = None,
        timeout: float = 60.0) -> LoadResult:
    """Deliver ``sends`` to 127.0.0.1:``port`` with ``concurrency`` workers; bounded by
    ``time_limit`` seconds overall (what is not done by then counts as unfinished)."""
    work: queue.Queue[Send] = queue.Queue()
    for item in sends:
        work.put(item)
    result = LoadResult()
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + time_limit
    done = [0]

    def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        conn: http.client.HTTPConnection | None = None
        while time.monotonic() < deadline:
            try:
                item = work.get_nowait()
            except queue.Empty:
                break
            first = time.monotonic()
            final: Attempt | None = None
            for n in range(retry.attempts):
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                request = item.profile.build(item.ident, int(time.time()), LOAD_CANARY)
                attempt = Attempt(item, None, 0.0, time.monotonic())
                try:
                    conn.request("POST", request.path + ("?" + request.query if request.query else ""),
                                 body=request.body, headers=dict(request.headers))
                    response = conn.getresponse()
                    data = response.read()
                    attempt.status = response.status
                    attempt.retry_after = response.getheader("Retry-After")
                    try:
                        attempt.body = json.loads(data)
                    except ValueError:
                        attempt.body = None
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as exc:
                    attempt.error = type(exc).__name__
                    conn.close()
                    conn = None
                attempt.latency_ms = (time.monotonic() - attempt.started) * 1000
                with lock:
                    result.attempts.append(attempt)
                final = attempt
                if attempt.status is not None and attempt.status // 100 == 2:
                    break
                pause = retry.pause(n, rng)
                if (n + 1 >= retry.attempts or time.monotonic() + pause > min(deadline, first + retry.budget)):
                    break
                # A retry comes on a new connection, as senders' retries do: a keep-alive
                # connection left idle through the backoff may be closed by the server meanwhile.
                if conn is not None:
                    conn.close()
                    conn = None
                time.sleep(pause)
            with lock:
                assert final is not None
                result.final[(item.ident, item.copy)] = final
                if final.status is None or final.status // 100 != 2:
                    result.unfinished += 1
                done[0] += 1
                count = done[0]
            if on_progress is not None:
                on_progress(count)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), name=f"sender-{i}", daemon=True)
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + timeout + 5))
    result.elapsed = time.monotonic() - started
    with lock:
        result.not_started = work.qsize()
    return result
