"""Paused DAGs (issue 11.9): Airflow accepts a run for a paused DAG and leaves it queued until
someone unpauses the DAG, so the answer says ``"dag_paused": true`` and a WARNING line says why
the run is not starting. One cache and one log line for both ways airhook triggers: the function
asks ``GET /dags/{id}`` over the REST API, the plugin reads ``DagModel.is_paused``."""

from __future__ import annotations

import threading
from collections.abc import Callable

#: How long a DAG's paused state is trusted: at most one lookup per DAG per minute and instance,
#: and an unpause shows within a minute.
PAUSED_TTL = 60.0


class PausedCache:
    """Whether each DAG is paused, kept :data:`PAUSED_TTL` seconds; concurrent first asks for a DAG
    share one lookup. ``None``: not known (the lookup could not tell, which never fails a run that
    already exists)."""

    def __init__(self, clock: Callable[[], float], ttl: float = PAUSED_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[str, tuple[float, bool | None]] = {}
        self._lock = threading.Lock()
        #: how many lookups were made (tests and benchmarks)
        self.lookups = 0

    def get(self, dag_id: str, lookup: Callable[[], bool | None]) -> bool | None:
        """The DAG's paused state, from the cache or from ``lookup`` (which must not raise)."""
        cached = self._entries.get(dag_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        with self._lock:
            cached = self._entries.get(dag_id)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            self.lookups += 1
            paused = lookup()
            self._entries[dag_id] = (self._clock() + self._ttl, paused)
            return paused


def warn_if_paused(log: Callable[..., None], dag_id: str, dag_run_id: str, paused: bool | None) -> None:
    """The WARNING line for a run queued on a paused DAG (nothing when it is not paused)."""
    if paused:
        log("WARNING", f"DAG {dag_id} is paused: run {dag_run_id} is queued but will not start until "
            "the DAG is unpaused", component="airflow", dag_id=dag_id, dag_run_id=dag_run_id, dag_paused=True)
