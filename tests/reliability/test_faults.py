"""Suite 4: faults during load, against the production server and the dedicated Airflow 3.3.

- Airflow's API server is SIGKILLed mid-load and restarted, with a new JWT signing secret (as an
  upgrade or a restart without a configured secret does): airhook answers 503 + Retry-After while
  it is down, the senders retry as real ones do, and every delivery ends with exactly one run.
- Token expiry mid-load: the dedicated Airflow issues tokens for 65 s, so airhook renews its
  token every ~5 s; through a counting proxy: one token fetch per expiry, no 401, no failure.
- Queue mode with the Pub/Sub emulator down: see test_queue_emulator_down.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
import uuid
from typing import Any

from airhook.airflow.auth import EXPIRY_MARGIN
from tests.pubsub_push import PushIdentity, PushProxy
from tools.local_airflow import AirflowServer
from tools.ports import port_open

from . import figures
from .conftest import JWT_LIFETIME
from .loadgen import RetryPolicy, plan, run
from .profiles import PROFILES
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
    assert "healthy" in timeline, "the API server was not killed and restarted during the load"
    assert result.unfinished == 0 and result.not_started == 0, result.figures(m)
    assert set(statuses) <= {"200", "503"}, statuses
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
    renewal = JWT_LIFETIME - min(EXPIRY_MARGIN, JWT_LIFETIME / 4)  # as airflow/auth.py renews
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
    # exp is whole seconds, so a renewal comes up to ~1 s early: never two fetches within 3.5 s.
    assert fetches <= result.elapsed / (renewal - 1) + 2, (fetches, result.elapsed)
    assert all(gap > renewal - 1.5 for gap in gaps), gaps
    assert not scan(log), scan(log)


def test_queue_mode_pubsub_down_during_load(reliability_airflow: AirflowServer,
                                            pubsub_emulator: Any) -> None:
    """Queue mode: receive publishes each run to Pub/Sub and answers 202; deliver (pushed by the
    emulator) triggers it. Mid-load, Pub/Sub becomes unreachable from receive (a proxy drops
    every connection; the emulator keeps its messages, as the real Pub/Sub would): receive
    answers 503 + Retry-After and never a 2xx it could not keep, the senders retry, and every
    delivery, accepted before, during or after the outage, ends as exactly one run."""
    airflow = reliability_airflow
    m, r, c = figures.pick((30, 1, 8), (300, 1, 16))
    outage = figures.pick(5.0, 20.0)
    token = uuid.uuid4().hex[:8]
    prefix = f"rel{token}"
    topic = pubsub_emulator.create_topic(f"{prefix}-deliveries")
    dead_topic = pubsub_emulator.create_topic(f"{prefix}-dead-letter")
    dead = pubsub_emulator.create_pull_subscription(f"{prefix}-dead-letter", dead_topic)
    identity = PushIdentity()  # deliver checks the push's OIDC token and the message signature
    queue = identity.delivery_section(mode="queue", topic=topic, dead_letter_topic=dead_topic, publish_timeout=2,
                                      max_delivery_attempts=10, minimum_backoff=0.5)
    deliveries = [(PROFILES[NAMES[i % len(NAMES)]], f"qd-{token}-{i}") for i in range(m)]
    sends = plan(deliveries, r, seed=11)
    reached = threading.Event()
    timeline: dict[str, float] = {}
    with CountingProxy(pubsub_emulator.url) as pubsub_proxy, identity:
        proxy_host = pubsub_proxy.url.removeprefix("http://")
        deliver = airhook_server(airflow, NAMES, suite="4 faults", delivery=queue, target="deliver",
                                 env={"PUBSUB_EMULATOR_HOST": pubsub_emulator.host, "THREADS": "4"})
        receive = airhook_server(airflow, NAMES, suite="4 faults", delivery=queue,
                                 env={"PUBSUB_EMULATOR_HOST": proxy_host})
        with deliver, receive, PushProxy(deliver.url + "/", identity) as pusher:
            push = pubsub_emulator.create_push_subscription(
                f"{prefix}-deliver", topic, pusher.url, dead_letter_topic=dead_topic,
                max_delivery_attempts=10, ack_deadline=60)

            def fault() -> None:
                if reached.wait(120):
                    timeline["down"] = time.monotonic()
                    pubsub_proxy.down = True
                    time.sleep(outage)
                    pubsub_proxy.down = False
                    timeline["up"] = time.monotonic()

            killer = threading.Thread(target=fault, daemon=True)
            killer.start()
            result = run(receive.port, sends, concurrency=c,
                         on_progress=lambda done: reached.set() if done >= len(sends) // 4 else None,
                         retry=RetryPolicy(attempts=80, first=0.5, cap=4.0, budget=240),
                         time_limit=figures.pick(240, 600))
            killer.join(outage + 130)
            accepted = time.monotonic()
            expected = {expected_run_id(p.name, ident) for p, ident in deliveries}
            created: list[str] = []
            while time.monotonic() < accepted + figures.pick(120, 400):
                created = runs_with(airflow, f"qd-{token}-")
                if len(created) >= len(expected):
                    break
                time.sleep(1.0)
            drained = time.monotonic() - accepted
            pubsub_emulator.delete_subscription(push)
            logs = receive.log_text() + deliver.log_text()
    dead_letters = [d for d in pubsub_emulator.drain(dead, settle=1.0)
                    if f"qd-{token}-" in json.dumps(d)]
    statuses = result.statuses()
    figures.record("4 faults: Pub/Sub down mid-load (queue mode)", M_deliveries=m, R_redeliveries=r,
                   C_senders=c, outage_s=outage, runs_expected=m, runs_created=len(created),
                   publishes_dropped=pubsub_proxy.dropped, drained_after_load_s=round(drained, 1),
                   dead_letters=len(dead_letters), **result.figures(m))
    assert "up" in timeline, "Pub/Sub was not taken down during the load"
    assert result.unfinished == 0 and result.not_started == 0, result.figures(m)
    assert set(statuses) <= {"202", "503"} and statuses.get("503", 0) > 0, statuses
    assert all(a.retry_after for a in result.attempts if a.status == 503)
    assert sorted(created) == sorted(expected), (len(created), len(set(created)), len(expected))
    assert dead_letters == []
    assert not scan(logs), scan(logs)
