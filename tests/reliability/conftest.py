"""Reliability suites (issue 8): bad input, fuzzing, load, faults, secrets.

``AIRHOOK_RELIABILITY=long`` selects the long profile (``make test-long``); the default ``fast``
profile runs in ``make test``. Tests marked ``long`` run only in the long profile. Each suite's
figures are printed at the end of the run and written to ``.airhook/reliability/``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from . import figures

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if figures.LONG:
        return
    skip = pytest.mark.skip(reason="long profile only (AIRHOOK_RELIABILITY=long, make test-long)")
    for item in items:
        if "long" in item.keywords and "tests/reliability" in str(item.fspath):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not figures.FIGURES:
        return
    path = figures.write()
    terminalreporter.section(f"reliability figures ({figures.PROFILE} profile)")
    machine = figures.machine()
    terminalreporter.write_line(f"  machine: {machine['cores']} cores, load average "
                                f"{machine['loadavg_1_5_15']} at the end of the run")
    for suite in sorted(figures.FIGURES):
        terminalreporter.write_line(figures.format_section(suite, figures.FIGURES[suite]))
    if path is not None:
        terminalreporter.write_line(f"  written to {path}")


# ---------------------------------------------------------------------------------------- Airflow

#: The dedicated Airflow's JWT lifetime. airhook renews a token min(60 s, a quarter of its life)
#: before it expires (airflow/auth.py), so 8 s means a fresh token every ~6 s of load: the load
#: and fault suites always run across several token expiries.
JWT_LIFETIME = 8


@pytest.fixture(scope="session")
def reliability_airflow() -> Any:
    """A dedicated Airflow 3.3 on PostgreSQL for the load and fault suites (their own instance:
    they kill its API server and fill it with thousands of runs, which must disturb no other
    test). Its only DAG, ``reliability_sink``, stays paused: runs are created and counted, never
    executed, so they cost the scheduler nothing."""
    from tools.local_airflow import AIRFLOW3_VERSION, AirflowServer

    server = AirflowServer(AIRFLOW3_VERSION, dags_folder=Path(__file__).parent / "dags", db="postgres",
                           parallelism=2,
                           extra_env={"AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME": str(JWT_LIFETIME)})
    started = time.monotonic()
    try:
        server.start()
        server.wait_ready(["reliability_sink"])
        response = server.request("PATCH", "dags/reliability_sink", {"is_paused": True})
        assert response.status == 200, response
        figures.record("0 setup", dedicated_airflow_start_s=round(time.monotonic() - started, 1))
        yield server
    finally:
        server.stop(grace=5)
