"""Fixtures for the ``airhook`` command's tests: the command run for real in a subprocess, and a
real Airflow 3 for ``send`` end to end.

``airflow3`` is a session fixture of this directory's own: tests/integration's fixtures are not
visible from here. It starts Airflow 3 only if a collected test asks for it (tests/integration
starts its own).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tools` is a top-level package of the checkout
    sys.path.insert(0, str(ROOT))

from tools.local_airflow import AIRFLOW3_VERSION, DEMO_DAG_IDS, AirflowServer  # noqa: E402


@pytest.fixture(scope="session")
def airflow3() -> Iterator[AirflowServer]:
    """Airflow 3.3 (REST API v2, JWT for admin/admin, PostgreSQL), demo DAGs ready."""
    server = AirflowServer(AIRFLOW3_VERSION, dags_folder=ROOT / "examples" / "dags", db="postgres")
    try:
        server.start()
        server.wait_ready(DEMO_DAG_IDS)
        yield server
    finally:
        server.stop()
