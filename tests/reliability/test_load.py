"""Suite 3: load against the production server and a real Airflow 3.3 on PostgreSQL.

M distinct deliveries (a mix of sender types), each delivered once and redelivered R times,
freshly signed, by C concurrent senders; a fifth of the deliveries have their copies sent at the
same moment. Expected: exactly M DAG runs (one per delivery, none for anything else), every
answer 200, no 5xx, every redelivery reported as a duplicate. Reported: throughput, p50/p99.

Airflow itself accepts ~20-50 runs/s on this machine (shared/reference/airflow-local.md), which
bounds what this can reach: the figures measure the whole path, Airflow included.
"""

from __future__ import annotations

import uuid
from typing import Any

from tools.local_airflow import AirflowServer

from . import figures
from .loadgen import RetryPolicy, plan, run
from .profiles import DAG_ID, PROFILES
from .servers import airhook_server, scan

SUITE = "3 load"
M, R, C = figures.pick((60, 2, 8), (1500, 2, 16))
# Types whose run id ends in the ident the harness chose (Shopify's and Twilio's are body hashes).
NAMES = ("r-github", "r-stripe", "r-slack", "r-standard-webhooks", "r-bitbucket", "r-pagerduty", "r-token")


def expected_run_id(name: str, ident: str) -> str:
    return f"airhook__{name}__to-sink-{name}__{ident}"


def runs_with(airflow: AirflowServer, token: str) -> list[str]:
    airflow.auth_headers(refresh=True)  # its cached token dies with a restart (403, not 401)
    return [r["dag_run_id"] for r in airflow.list_dag_runs(DAG_ID) if token in r["dag_run_id"]]


def test_load_exactly_one_run_per_delivery(reliability_airflow: AirflowServer) -> None:
    airflow = reliability_airflow
    token = uuid.uuid4().hex[:8]
    deliveries = [(PROFILES[NAMES[i % len(NAMES)]], f"ld-{token}-{i}") for i in range(M)]
    sends = plan(deliveries, R, seed=M)
    with airhook_server(airflow, NAMES, suite=SUITE) as server:
        # One warm-up delivery (token fetch, pools), not counted.
        warm = run(server.port, plan([(PROFILES["r-github"], f"warm-{token}")], 0, 1), concurrency=1,
                   retry=RetryPolicy(attempts=3), time_limit=60)
        assert warm.unfinished == 0, warm.attempts
        result = run(server.port, sends, concurrency=C, retry=RetryPolicy(attempts=1),
                     time_limit=figures.pick(120, 600))
        log = server.log_text()
    created = runs_with(airflow, f"ld-{token}-")
    expected = {expected_run_id(p.name, ident) for p, ident in deliveries}
    numbers: dict[str, Any] = {"M_deliveries": M, "R_redeliveries": R, "C_senders": C,
                               "runs_expected": M, "runs_created": len(created),
                               "duplicate_runs": len(created) - len(set(created)),
                               **result.figures(M)}
    figures.record(SUITE, **numbers, machine_load=figures.machine()["loadavg_1_5_15"])
    assert result.unfinished == 0
    assert set(result.statuses()) == {"200"}, result.statuses()
    assert sorted(created) == sorted(expected), (len(created), len(expected))
    # Each answer reports its run as queued (created now) or duplicate (409: it exists). An
    # Airflow answer lost to a timeout and retried makes a creation a "duplicate", so the exact
    # split is reported, and only the total is asserted; the runs themselves are counted above.
    runs = result.run_statuses()
    assert set(runs) <= {"queued", "duplicate"} and sum(runs.values()) == M * (1 + R), runs
    assert not scan(log), scan(log)
