"""Suite 4: faults during load, against the production server and the dedicated Airflow 3.3.

- Airflow's API server is SIGKILLed mid-load and restarted, with a new JWT signing secret (as an
  upgrade or a restart without a configured secret does): airhook answers 503 + Retry-After while
  it is down, the senders retry as real ones do, and every delivery ends with exactly one run.
- Token expiry mid-load: the dedicated Airflow issues tokens for 65 s, so airhook renews its
  token every ~5 s; through a counting proxy: one token fetch per expiry, no 401, no failure.
- Queue mode with the Pub/Sub emulator down: see test_queue_emulator_down.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from tools.local_airflow import AirflowServer, port_open

from . import figures
from .conftest import JWT_LIFETIME
from .loadgen import RetryPolicy, plan, run
from .profiles import DAG_ID, PROFILES
from .proxy import CountingProxy
from .servers import airhook_server, scan
from .test_load import NAMES, expected_run_id, runs_with


def kill_api(airflow: AirflowServer) -> None:
    """SIGKILL the API server's process group (no graceful shutdown: in-flight requests die)."""
    pid = airflow.pids[airflow.api_process]
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while port_open(airflow.port, timeout=0.2) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_api_server_killed_and_restarted_during_load(reliability_airflow: AirflowServer) -> None:
    airflow = reliability_airflow
    m, r, c = figures.pick((40, 1, 8), (400, 1, 16))
    token = uuid.uuid4().hex[:8]
    deliveries = [(PROFILES[NAMES[i % len(NAMES)]], f"fk-{token}-{i}") for i in range(m)]
    sends = plan(deliveries, r, seed=7)
    reached = threading.Event()
    timeline: dict[str, float] = {}

    def progress(done: int) -> None:
        if done >= len(sends) // 4:
            reached.set()

    def fault() -> None:
        if not reached.wait(120):
            return
        timeline["killed"] = time.monotonic()
        kill_api(airflow)
        # A new signing secret on restart: every token airhook holds is now refused (401).
        airflow._env["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(64)  # noqa: SLF001
        time.sleep(2)
        airflow.start_api(timeout=180)
        timeline["healthy"] = time.monotonic()

    with airhook_server(airflow, NAMES, suite="4 faults", deadline=4) as server:
        warm = run(server.port, plan([(PROFILES["r-github"], f"warm-{token}")], 0, 1), concurrency=1,
                   retry=RetryPolicy(attempts=3), time_limit=60)
        assert warm.unfinished == 0
        killer = threading.Thread(target=fault, name="kill-api", daemon=True)
        killer.start()
        started = time.monotonic()
        result = run(server.port, sends, concurrency=c, on_progress=progress,
                     retry=RetryPolicy(attempts=80, first=0.5, cap=4.0, budget=240),
                     time_limit=figures.pick(300, 600))
        killer.join(200)
        log = server.log_text()
    created = runs_with(airflow, f"fk-{token}-")
    expected = {expected_run_id(p.name, ident) for p, ident in deliveries}
    statuses = result.statuses()
    retried = sum(1 for attempt in result.attempts if attempt.status != 200)
    no_retry_after = [a for a in result.attempts if a.status == 503 and not a.retry_after]
    figures.record("4 faults: API server killed mid-load", M_deliveries=m, R_redeliveries=r, C_senders=c,
                   runs_expected=m, runs_created=len(created),
                   api_down_s=round(timeline.get("healthy", float("nan")) - timeline.get("killed", float("nan")), 1),
                   killed_after_s=round(timeline.get("killed", started) - started, 1),
                   non_2xx_attempts_retried=retried, **result.figures(m))
    print("fault statuses", statuses, [(a.status, (a.body or {}).get("error")) for a in result.attempts if a.status not in (200,)][:40])
    assert "healthy" in timeline, "the API server was not killed and restarted during the load"
    assert result.unfinished == 0 and result.not_started == 0, result.figures(m)
    assert set(statuses) <= {"200", "503", "no answer"}, statuses
    assert statuses.get("503", 0) > 0, "the outage was not seen by any sender"
    assert not no_retry_after
    assert sorted(created) == sorted(expected), (len(created), len(set(created)), len(expected))
    # The 500s of an outage are 503s; the cause is logged at most once a minute.
    assert not scan(log), scan(log)
    assert log.count('"reason":"') < len(result.attempts)


def test_token_expiry_mid_load(reliability_airflow: AirflowServer) -> None:
    airflow = reliability_airflow
    seconds = figures.pick(16, 60)
    token = uuid.uuid4().hex[:8]
    deliveries = [(PROFILES[NAMES[i % len(NAMES)]], f"jw-{token}-{i}") for i in range(100_000)]
    with CountingProxy(airflow.url) as proxy:
        with airhook_server(airflow, NAMES, suite="4 faults", url=proxy.url) as server:
            result = run(server.port, plan(deliveries, 0, seed=3, together=0), concurrency=4,
                         retry=RetryPolicy(attempts=1), time_limit=seconds)
            log = server.log_text()
    sent = len(result.final)
    created = runs_with(airflow, f"jw-{token}-")
    fetches = proxy.requests["POST /auth/token"]
    renewal = JWT_LIFETIME - 60  # airhook renews EXPIRY_MARGIN (60 s) before exp
    gaps = [b - a for a, b in zip(proxy.token_times, proxy.token_times[1:])]
    figures.record("4 faults: token expiry mid-load", seconds=round(result.elapsed, 1),
                   jwt_lifetime_s=JWT_LIFETIME, deliveries=sent, runs_created=len(created),
                   token_fetches=fetches, airflow_401s=proxy.statuses.get(401, 0),
                   min_gap_between_fetches_s=round(min(gaps), 2) if gaps else None,
                   statuses=dict(result.statuses()),
                   latency_p50_ms=result.figures(sent)["latency_p50_ms"],
                   latency_p99_ms=result.figures(sent)["latency_p99_ms"])
    assert result.unfinished == 0 and set(result.statuses()) == {"200"}, result.statuses()
    assert len(created) == sent
    assert proxy.statuses.get(401, 0) == 0
    # One fetch per expiry: the first, then one per renewal period; never two at once.
    assert fetches >= 2, "no token expired during the load"
    assert fetches <= result.elapsed / renewal + 2, (fetches, result.elapsed)
    assert all(gap > renewal * 0.8 for gap in gaps), gaps
    assert not scan(log), scan(log)


def _emulator_available() -> Any:
    try:
        from tools.pubsub_emulator import GCLOUD  # noqa: F401
    except ImportError:
        return False
    import shutil
    from pathlib import Path
    return Path(GCLOUD).exists() or shutil.which(GCLOUD) is not None
