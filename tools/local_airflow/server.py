"""The Airflow server itself: a real Airflow (2.x with REST API v1, 3.x with REST API v2) on
127.0.0.1 in a fresh ``AIRFLOW_HOME``, its processes, readiness, and a small REST client for
tests to compare with airhook."""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

from tools.ports import HOST, free_port, port_open
from tools.processes import STOP_GRACE, Process, run_logged, tail

from .api import AirflowRest, ApiResponse, http_request, quote_part
from .errors import ApiError, LocalAirflowError, StartError
from .install import AIRFLOW3_VERSION, INSTALL_TIMEOUT, ensure_venv, major, release
from .postgres import PostgresCluster

log = logging.getLogger("airhook.local_airflow")

#: DAGs defined in examples/dags/airhook_demo.py.
DEMO_DAG_IDS: tuple[str, ...] = ("deploy", "billing_sync")
DEFAULT_DAGS_FOLDER = Path(__file__).resolve().parents[2] / "examples" / "dags"

START_TIMEOUT = 180.0  # seconds; a cold start to "DAGs ready" takes ~10-20 s

USERNAME = "admin"
PASSWORD = "admin"

Db = Literal["postgres", "sqlite"]


def _clean_env() -> dict[str, str]:
    # Inherited AIRFLOW* settings (a developer's own Airflow) must not leak into the harness.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy  # task processes call the API over httpx
    return env


class AirflowServer(AirflowRest):
    """A real Airflow on 127.0.0.1 in a fresh ``AIRFLOW_HOME``, with ``admin``/``admin``.

    Airflow 3.x: ``api-server``, ``scheduler``, ``dag-processor``, LocalExecutor, simple auth
    manager, REST API v2 with JWT. Airflow 2.x: ``webserver``, ``scheduler``, basic auth, REST API v1,
    SequentialExecutor on SQLite or LocalExecutor on PostgreSQL.

    Args:
        version: the Airflow version, e.g. ``"3.3.2"`` or ``"2.11.2"``.
        dags_folder: the DAG files to load (examples/dags by default).
        db: ``"postgres"`` (a throwaway cluster of its own) or ``"sqlite"``. Default: postgres for
            3.x (its API answers 500s under concurrent triggers on SQLite), sqlite for 2.x.
        port: the API/webserver port; a free one by default.
        parallelism: ``core.parallelism`` (task slots).
        extra_env: more environment for every Airflow process (e.g. ``AIRFLOW__...`` overrides).
        keep_home: keep ``AIRFLOW_HOME`` (logs, SQLite DB) after :meth:`stop`; default from
            ``AIRHOOK_KEEP_HOME=1`` (handy to read the logs of a failed CI run).
    """

    def __init__(self, version: str = AIRFLOW3_VERSION,
                 dags_folder: Path | str = DEFAULT_DAGS_FOLDER, db: Db | None = None,
                 port: int | None = None, *, parallelism: int = 4,
                 extra_env: Mapping[str, str] | None = None, keep_home: bool | None = None,
                 cache: Path | None = None) -> None:
        self.version = version
        self.major = major(version)
        if self.major not in (2, 3):
            raise ValueError(f"unsupported Airflow version {version!r} (2.x or 3.x)")
        self.api: Literal["v1", "v2"] = "v2" if self.major >= 3 else "v1"
        self.dags_folder = Path(dags_folder).resolve()
        if not self.dags_folder.is_dir():
            raise ValueError(f"DAG folder {self.dags_folder} does not exist")
        self.db: Db = db or ("postgres" if self.major >= 3 else "sqlite")
        if self.db not in ("postgres", "sqlite"):
            raise ValueError(f"db must be 'postgres' or 'sqlite', not {self.db!r}")
        self.port = port
        self.parallelism = parallelism
        self.extra_env = dict(extra_env or {})
        self.keep_home = (os.environ.get("AIRHOOK_KEEP_HOME") == "1" if keep_home is None
                          else keep_home)
        self.cache = cache
        self.username = USERNAME
        self.password = PASSWORD
        self.home: Path | None = None
        self.venv: Path | None = None
        self.postgres: PostgresCluster | None = None
        self._env: dict[str, str] = {}
        self._procs: dict[str, Process] = {}
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._stopped = False
        # Set by stop(): lets a stop() from another thread (Ctrl-C in the CLI, pytest teardown)
        # cut a start() or wait_ready() short instead of waiting out its timeout.
        self._abort = threading.Event()

    # ---- read-only facts ----

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080`` (known once started or given a port)."""
        if self.port is None:
            raise LocalAirflowError("no port yet: start() the server first")
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """The REST API root, e.g. ``http://127.0.0.1:8080/api/v2``."""
        return f"{self.url}/api/{self.api}"

    @property
    def api_process(self) -> str:
        return "api-server" if self.major >= 3 else "webserver"

    @property
    def log_dir(self) -> Path:
        """Where each process writes its output (``<name>.log``)."""
        if self.home is None:
            raise LocalAirflowError("not started")
        return self.home / "process-logs"

    @property
    def log_paths(self) -> dict[str, Path]:
        """Log file of each Airflow process (and PostgreSQL's, when used)."""
        paths = {name: proc.log_path for name, proc in self._procs.items()}
        if self.postgres is not None and self.postgres.dir is not None:
            paths["postgres"] = self.postgres.log_path
        return paths

    @property
    def pids(self) -> dict[str, int]:
        """PID (= process group id) of each running Airflow process."""
        return {name: p.pid for name, p in self._procs.items() if p.pid is not None and p.running()}

    @property
    def sqlalchemy_url(self) -> str:
        return self._env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")

    def info(self) -> dict[str, Any]:
        """What a client needs, as JSON-friendly data (the CLI prints this with --json)."""
        return {"version": self.version, "api": self.api, "url": self.url,
                "api_url": self.api_url, "username": self.username, "password": self.password,
                "db": self.db, "sqlalchemy_url": self.sqlalchemy_url, "pids": self.pids,
                "postgres_pid": None if self.postgres is None else self.postgres.pid,
                "home": str(self.home),
                "logs": {k: str(v) for k, v in self.log_paths.items()}}

    def __repr__(self) -> str:
        where = f"{HOST}:{self.port}" if self.port else "not started"
        return f"AirflowServer({self.version}, {self.db}, {where})"

    # ---- lifecycle ----

    def start(self, timeout: float = START_TIMEOUT, install_timeout: float = INSTALL_TIMEOUT
              ) -> AirflowServer:
        """Install if needed, migrate the DB, create the admin user and start every process; return
        once the API answers its health check. Call :meth:`wait_ready` for the DAGs.

        Raises:
            InstallError: the venv could not be built.
            StartError: something did not come up in ``timeout`` seconds (with the logs' tail).
        """
        with self._state_lock:
            if self.home is not None:
                raise LocalAirflowError("already started (an AirflowServer starts once)")
            self.venv = ensure_venv(self.version, cache=self.cache, timeout=install_timeout)
            began = time.monotonic()
            deadline = began + timeout
            self.home = Path(tempfile.mkdtemp(prefix=f"airhook-airflow{self.major}-"))
            self.log_dir.mkdir()
            atexit.register(self.stop)
            try:
                if self.db == "postgres":
                    self.postgres = PostgresCluster().start(timeout=60)
                self.port = self.port or free_port()
                self._env = self._build_env()
                self._prepare(deadline)
                for name, argv in self._commands().items():
                    self._procs[name] = Process(name, argv, self._env, self.home,
                                                 self.log_dir / f"{name}.log")
                # All at once: none waits for another, and the health check covers the API.
                for proc in self._procs.values():
                    proc.start()
                self._wait_health(deadline)
            except BaseException:
                self.stop()
                raise
            log.info("Airflow %s up at %s in %.1fs (home %s)", self.version, self.url,
                     time.monotonic() - began, self.home)
            return self

    def _build_env(self) -> dict[str, str]:
        assert self.home is not None and self.venv is not None and self.port is not None
        home = self.home
        env = _clean_env()
        # The venv's bin first: Airflow 2's executors run tasks as `airflow tasks run ...`.
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        if self.db == "postgres":
            assert self.postgres is not None
            conn = self.postgres.sqlalchemy_url
            executor = "LocalExecutor"
        else:
            conn = f"sqlite:///{home / 'airflow.db'}"
            # Airflow 2 refuses LocalExecutor on SQLite; Airflow 3 accepts it.
            executor = "LocalExecutor" if self.major >= 3 else "SequentialExecutor"
        env.update({
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn,
        })
        if self.major >= 3:
            # Simple auth manager: USERS is "name:role"; the passwords file (written by _prepare)
            # fixes the password, which would otherwise be generated at random.
            env.update({
                "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                                               "simple_auth_manager.SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__API__HOST": HOST,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                # Task processes report to the api-server's execution API.
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            })
        else:
            env.update({
                "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth,"
                                               "airflow.api.auth.backend.session",
                "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": HOST,
                "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.port),
                "AIRFLOW__WEBSERVER__BASE_URL": self.url,
                "AIRFLOW__WEBSERVER__WORKERS": "2",
                "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            })
        env.update(self.extra_env)
        return env

    def _airflow(self, *args: str) -> list[str]:
        assert self.venv is not None
        return [str(self.venv / "bin" / "airflow"), *args]

    def _prepare(self, deadline: float) -> None:
        assert self.home is not None
        setup_log = self.log_dir / "setup.log"

        def run(*args: str) -> None:
            run_logged(self._airflow(*args), env=self._env, deadline=deadline,
                        log_path=setup_log, what=f"airflow {args[0]} {args[1]}",
                        error=StartError, cwd=self.home)

        if self.major >= 3:
            (self.home / "passwords.json").write_text(json.dumps({self.username: self.password}))
            run("db", "migrate")
        else:
            run("db", "migrate" if release(self.version) >= (2, 7) else "upgrade")  # migrate: 2.7+
            run("users", "create", "--username", self.username, "--password", self.password,
                "--firstname", "Air", "--lastname", "Hook", "--role", "Admin",
                "--email", "admin@example.com")
            # Without this, anonymous or wrong credentials get 403 instead of 401.
            config = self.home / "webserver_config.py"
            with open(config, "a") as fh:
                fh.write("\n# airhook: no public role, so bad credentials answer 401\n"
                         "AUTH_ROLE_PUBLIC = None\n")

    def _commands(self) -> dict[str, list[str]]:
        # --skip-serve-logs: otherwise the scheduler serves logs on 0.0.0.0:8793 (and two
        # harnesses would fight for it).
        if self.major >= 3:
            return {"scheduler": self._airflow("scheduler", "--skip-serve-logs"),
                    "dag-processor": self._airflow("dag-processor"),
                    "api-server": self._airflow("api-server")}
        return {"scheduler": self._airflow("scheduler", "--skip-serve-logs"),
                "webserver": self._airflow("webserver")}

    def _health_path(self) -> str:
        return "/api/v2/monitor/health" if self.major >= 3 else "/api/v1/health"

    def _check_processes(self) -> None:
        if self._abort.is_set():
            raise StartError(f"Airflow {self.version}: stopped while starting")
        for name, proc in self._procs.items():
            code = proc.exit_code()
            if code is not None:
                raise StartError(f"Airflow {self.version}: `{name}` exited with {code}\n"
                                 + self._log_report(first=name))

    def _log_report(self, lines: int = 30, first: str | None = None) -> str:
        """The tail of every log (the culprit's first), for error messages: the files themselves
        are deleted by stop() unless keep_home."""
        paths = sorted(self.log_paths.items(), key=lambda item: item[0] != first)
        return "\n".join(f"--- {name}: {path}\n{tail(path, lines)}"
                         for name, path in paths if path.exists())

    def _wait_health(self, deadline: float) -> ApiResponse:
        last: object = None
        while time.monotonic() < deadline:
            self._check_processes()
            try:
                resp = http_request("GET", self.url + self._health_path(), timeout=5)
                if resp.status == 200:
                    return resp
                last = resp
            except OSError as exc:
                last = exc
            time.sleep(0.5)
        raise StartError(f"Airflow {self.version} API at {self.url} not healthy in time "
                         f"(last: {last})\n{self._log_report()}")

    def wait_ready(self, dag_ids: Sequence[str] = DEMO_DAG_IDS,
                   timeout: float = START_TIMEOUT) -> None:
        """Wait until the scheduler is healthy and ``GET /api/vX/dags/{id}`` answers 200 for every
        DAG (the health endpoint alone answers before DAGs are parsed), then unpause them so runs
        execute.

        Raises:
            StartError: not ready in ``timeout`` seconds, or a process died (with the logs' tail).
        """
        deadline = time.monotonic() + timeout
        pending = list(dag_ids)
        last: object = None
        scheduler_ok = False
        while time.monotonic() < deadline:
            self._check_processes()
            try:
                if not scheduler_ok:
                    health = http_request("GET", self.url + self._health_path(), timeout=5)
                    sched = (health.body or {}).get("scheduler", {}) if isinstance(
                        health.body, dict) else {}
                    scheduler_ok = health.status == 200 and sched.get("status") == "healthy"
                    last = f"health {health}"
                while pending:
                    resp = self.request("GET", f"dags/{quote_part(pending[0])}")
                    if resp.status != 200:
                        last = f"dags/{pending[0]}: {resp}"
                        break
                    pending.pop(0)
                if scheduler_ok and not pending:
                    break
            except (OSError, ApiError) as exc:  # API still booting (token endpoint included)
                last = exc
            time.sleep(0.5)
        else:
            raise StartError(f"Airflow {self.version}: not ready in {timeout:.0f}s; waiting for "
                             f"DAGs {pending} / scheduler healthy={scheduler_ok} (last: {last})\n"
                             + self._log_report())
        for dag_id in dag_ids:
            resp = self.request("PATCH", f"dags/{quote_part(dag_id)}", {"is_paused": False})
            if resp.status != 200:
                raise ApiError(f"could not unpause {dag_id}", resp)

    def stop_api(self, grace: float = STOP_GRACE) -> None:
        """Stop only the api-server/webserver (simulates "Airflow is down"); the port then refuses
        connections. The scheduler keeps running."""
        with self._state_lock:
            proc = self._procs.get(self.api_process)
            if proc is not None:
                proc.stop(grace)
            if self.port is not None:
                deadline = time.monotonic() + 10
                while port_open(self.port, timeout=0.5) and time.monotonic() < deadline:
                    time.sleep(0.1)

    def start_api(self, timeout: float = 120.0) -> None:
        """Start the api-server/webserver again on the same port and wait for its health check."""
        with self._state_lock:
            proc = self._procs.get(self.api_process)
            if proc is None or self._stopped:
                raise LocalAirflowError("start() the server first")
            if not proc.running():
                proc.start()
            self._wait_health(time.monotonic() + timeout)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop everything (scheduler and DAG processor before the API), PostgreSQL too, and delete
        the home unless ``keep_home``. Idempotent; also registered with atexit."""
        self._abort.set()
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
            atexit.unregister(self.stop)
            # Scheduler first: with the API gone first, running tasks fail to report back.
            order = sorted(self._procs, key=lambda n: n == self.api_process)
            for name in order:
                try:
                    self._procs[name].stop(grace)
                except Exception:  # keep stopping the rest
                    log.exception("stopping %s", name)
            if self.postgres is not None:
                self.postgres.stop()
            if self.home is not None and not self.keep_home:
                shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
