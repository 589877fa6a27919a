"""A real Airflow (2.x with REST API v1, 3.x with REST API v2) on 127.0.0.1.

Used by the integration tests, the benchmarks and ``make run``. Standard library only, so it runs in
the dev venv without extra dependencies; Airflow itself lives in its own virtualenv in a cache
directory outside the checkout (``$AIRHOOK_CACHE`` or ``~/.cache/airhook``), built on first use.

Library::

    from tools.local_airflow import AirflowServer

    with AirflowServer("3.3.2", dags_folder=Path("examples/dags")) as airflow:
        airflow.wait_ready(["deploy"])
        airflow.trigger("deploy", "run-1", {"ref": "main"})
        airflow.wait_for_run_state("deploy", "run-1")

CLI::

    python -m tools.local_airflow install 2.11.2 3.3.2
    python -m tools.local_airflow up --version 3.3.2 --dags examples/dags [--db postgres] [--json]

Every process binds 127.0.0.1 only, runs in its own session and is stopped through its own
process group (never by name), so parallel harnesses and other users' processes are left alone.
One module per job: ``install`` (the venv recipe, its cache key and uv), ``postgres`` (a throwaway
PostgreSQL), ``server`` (AirflowServer: its processes, readiness and REST helpers), ``api`` (the
JSON requests), ``errors``, ``cli`` (``python -m tools.local_airflow``). Shared with the other
harnesses: tools/ports.py, tools/processes.py (starting and stopping process trees) and
tools/procfs.py. The names below are the package's interface; import them from
``tools.local_airflow``.


Environment: ``AIRHOOK_CACHE`` (cache root), ``AIRHOOK_KEEP_HOME=1`` (keep each AIRFLOW_HOME and its
logs after stopping), ``AIRHOOK_UV`` (use this uv binary instead of bootstrapping one),
``UV_CACHE_DIR`` (uv's download cache; default ``<cache>/uv-cache``).
"""

from __future__ import annotations

from tools.ports import HOST, free_port, port_open
from tools.processes import STOP_GRACE

from .api import ApiResponse, http_request
from .errors import ApiError, InstallError, LocalAirflowError, StartError
from .install import (
                      AIRFLOW2_OLDEST_VERSION,
                      AIRFLOW2_VERSION,
                      AIRFLOW3_VERSION,
                      INSTALL_TIMEOUT,
                      OLD_AIRFLOW2_PINS,
                      RESOLVE_AS_OF,
                      cache_dir,
                      ensure_uv,
                      ensure_venv,
                      uv_env,
                      venv_path,
)
from .postgres import PostgresCluster
from .server import DEFAULT_DAGS_FOLDER, DEMO_DAG_IDS, PASSWORD, START_TIMEOUT, USERNAME, AirflowServer, Db

__all__ = [
    "AIRFLOW2_OLDEST_VERSION", "AIRFLOW2_VERSION", "AIRFLOW3_VERSION", "DEFAULT_DAGS_FOLDER",
    "DEMO_DAG_IDS", "HOST", "INSTALL_TIMEOUT", "OLD_AIRFLOW2_PINS", "PASSWORD", "RESOLVE_AS_OF",
    "START_TIMEOUT", "STOP_GRACE", "USERNAME", "AirflowServer", "ApiError", "ApiResponse", "Db",
    "InstallError", "LocalAirflowError", "PostgresCluster", "StartError", "cache_dir", "ensure_uv",
    "ensure_venv", "free_port", "http_request", "port_open", "uv_env", "venv_path",
]
