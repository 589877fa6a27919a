"""Session fixtures shared by every test directory (imported by tests/conftest.py): real local
servers for integration tests against a real local Airflow (see tools/local_airflow/).

- ``airflow2``: Airflow 2.11.2, REST API v1, SQLite + SequentialExecutor.
- ``airflow3``: Airflow 3.3.2, REST API v2, PostgreSQL + LocalExecutor.
- ``airflow``: parametrized over both (test ids ``airflow2`` / ``airflow3``).
- ``airflow2_oldest``: Airflow 2.5.1 (the oldest 2.x MWAA still lists; it refuses a trigger's
  ``note``), SQLite, for the tests of version-fitted bodies only (not part of ``airflow``).

All are session-scoped: started (with the demo DAGs ready and unpaused) the first time a test asks,
stopped at the end of the session. On that first request, every generation that some collected test
uses is started at once in background threads, so a run that needs both pays for one startup, not
two; a run that uses neither (``-k`` on unit-like tests) starts nothing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tools` is a top-level package of the checkout
    sys.path.insert(0, str(ROOT))

from tools.local_airflow import (  # noqa: E402
    AIRFLOW2_OLDEST_VERSION,
    AIRFLOW2_VERSION,
    AIRFLOW3_VERSION,
    DEMO_DAG_IDS,
    AirflowServer,
)
from tools.pubsub_emulator import PubSubEmulator  # noqa: E402

DAGS_FOLDER = ROOT / "examples" / "dags"

#: fixture name -> how to build that server
_SPECS: dict[str, dict[str, str]] = {
    "airflow2": {"version": AIRFLOW2_VERSION, "db": "sqlite"},
    "airflow3": {"version": AIRFLOW3_VERSION, "db": "postgres"},
    "airflow2_oldest": {"version": AIRFLOW2_OLDEST_VERSION, "db": "sqlite"},
}
#: what the ``airflow`` fixture runs each test against
_MATRIX = ("airflow2", "airflow3")


class LocalAirflows:
    """Starts each generation at most once per session, in parallel, and stops them all."""

    def __init__(self, wanted: set[str]) -> None:
        self._wanted = wanted
        self._pool = ThreadPoolExecutor(max_workers=len(_SPECS), thread_name_prefix="airflow")
        self._futures: dict[str, Future[AirflowServer]] = {}
        self._servers: list[AirflowServer] = []
        self._lock = threading.Lock()

    def _start(self, name: str) -> AirflowServer:
        spec = _SPECS[name]
        server = AirflowServer(spec["version"], dags_folder=DAGS_FOLDER, db=spec["db"])  # type: ignore[arg-type]
        with self._lock:
            self._servers.append(server)  # registered first, so teardown stops a half-started one
        server.start()
        server.wait_ready(DEMO_DAG_IDS)
        return server

    def get(self, name: str) -> AirflowServer:
        with self._lock:
            for other in sorted(self._wanted | {name}):
                if other not in self._futures:
                    self._futures[other] = self._pool.submit(self._start, other)
            future = self._futures[name]
        return future.result()

    def close(self) -> None:
        with self._lock:
            servers = list(self._servers)
        # In parallel: each stop waits for graceful shutdowns (seconds), no need to add them up.
        stoppers = [threading.Thread(target=s.stop, name=f"stop-{s.version}") for s in servers]
        for thread in stoppers:
            thread.start()  # stop() also cuts short a start still in progress
        for thread in stoppers:
            thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _wanted_generations(session: pytest.Session) -> set[str]:
    wanted: set[str] = set()
    for item in session.items:
        names = getattr(item, "fixturenames", ())
        wanted.update(n for n in _SPECS if n in names)
        if "airflow" in names:
            callspec = getattr(item, "callspec", None)
            param = callspec.params.get("airflow") if callspec is not None else None
            if isinstance(param, str) and param in _SPECS:
                wanted.add(param)
            elif param is None:
                wanted.update(_MATRIX)
            # else: a test's own parameter that happens to be named "airflow" (a config dict)
    return wanted


@pytest.fixture(scope="session")
def local_airflows(request: pytest.FixtureRequest) -> Iterator[LocalAirflows]:
    """The session's Airflow servers (use ``airflow2`` / ``airflow3`` / ``airflow`` instead)."""
    manager = LocalAirflows(_wanted_generations(request.session))
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture(scope="session")
def airflow2(local_airflows: LocalAirflows) -> AirflowServer:
    """Airflow 2.11.2 (REST API v1, basic auth admin/admin, SQLite), demo DAGs ready."""
    return local_airflows.get("airflow2")


@pytest.fixture(scope="session")
def airflow3(local_airflows: LocalAirflows) -> AirflowServer:
    """Airflow 3.3.2 (REST API v2, JWT for admin/admin, PostgreSQL), demo DAGs ready."""
    return local_airflows.get("airflow3")


@pytest.fixture(scope="session")
def airflow2_oldest(local_airflows: LocalAirflows) -> AirflowServer:
    """Airflow 2.5.1 (REST API v1, basic auth admin/admin, SQLite), demo DAGs ready."""
    return local_airflows.get("airflow2_oldest")


@pytest.fixture(scope="session", params=_MATRIX)
def airflow(request: pytest.FixtureRequest) -> AirflowServer:
    """Each generation in turn: ``airflow2`` then ``airflow3``."""
    server: AirflowServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    """The real Pub/Sub emulator (``gcloud beta emulators pubsub start``) on 127.0.0.1, started on
    first use and stopped, with its Java child, at the end of the session. Tests create their own
    uniquely named topics and subscriptions in it."""
    with PubSubEmulator(project="airhook-test") as emulator:
        yield emulator
