"""A throwaway PostgreSQL cluster on 127.0.0.1 for Airflow's metadata database (Airflow 3's API
answers 500s under concurrent triggers on SQLite)."""

from __future__ import annotations

import atexit
import logging
import os
import pwd
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

from tools.ports import HOST, free_port, port_open
from tools.processes import Process, run_logged, tail

from .errors import StartError

log = logging.getLogger("airhook.local_airflow")


def _pg_bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                        else 0)
    if candidates:
        return candidates[-1].parent
    raise StartError("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in "
                     "/usr/lib/postgresql/*/bin; install them with `apt-get install -y postgresql`")


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with trust auth and one database.

    initdb refuses to run as root, so as root initdb and the server run as the ``postgres`` user
    (setuid in the child) in a temporary directory it owns. The server is our own child process
    rather than daemonized by ``pg_ctl start``: PID 1 here does not reap orphans, so a daemonized
    postmaster would linger as a zombie, and a child is stopped by PID like everything else.
    Usable as a context manager.
    """

    def __init__(self, port: int | None = None, *, user: str = "airflow",
                 dbname: str = "airflow") -> None:
        self.port = port
        self.user = user
        self.dbname = dbname
        self.dir: Path | None = None
        self._server: Process | None = None
        self._lock = threading.Lock()

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while running."""
        return None if self._server is None else self._server.pid

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@{HOST}:{self.port}/{self.dbname}"

    def start(self, timeout: float = 60.0) -> PostgresCluster:
        """initdb, start the server, create the database.

        Raises:
            StartError: binaries or the postgres user missing, or the server did not come up.
        """
        deadline = time.monotonic() + timeout
        bindir = _pg_bindir()
        as_owner: dict[str, Any] = {}
        self.dir = Path(tempfile.mkdtemp(prefix="airhook-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise StartError("running as root but there is no `postgres` user to run "
                                 "PostgreSQL as (initdb refuses root)") from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["HOME"] = str(self.dir)
        atexit.register(self.stop)
        try:
            run_logged([str(bindir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U",
                         self.user, "-E", "UTF8", "--no-sync"], env=env, deadline=deadline,
                        log_path=self.dir / "initdb.log", what="initdb", error=StartError,
                        cwd=self.dir, popen_kwargs=as_owner)
            # A given port may be taken and a random one raced for: retry random ones.
            for attempt in range(3):
                port = self.port or free_port()
                self._server = Process(
                    "postgres",
                    # Throwaway data: durability off makes Airflow's many small commits cheap;
                    # the socket goes in our own dir, not the shared /var/run/postgresql.
                    [str(bindir / "postgres"), "-D", str(self.data_dir), "-h", HOST, "-p",
                     str(port), "-k", str(self.dir), "-c", "fsync=off", "-c",
                     "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
                     "max_connections=200"],
                    env, self.dir, self.log_path, popen_kwargs=as_owner,
                    # SIGINT is postgres' "fast" shutdown (SIGTERM waits for clients to leave);
                    # the postmaster stops its own backends, which sit in sessions of their own.
                    stop_signal=signal.SIGINT, signal_leader_only=True)
                self._server.start()
                if self._wait_accepting(port, deadline):
                    self.port = port
                    break
                self._server.stop()
                if self.port is not None or attempt == 2 or time.monotonic() > deadline:
                    raise StartError(f"PostgreSQL did not start on {HOST}:{port}; "
                                     f"{self.log_path}:\n{tail(self.log_path)}")
            run_logged([str(bindir / "createdb"), "-h", HOST, "-p", str(self.port), "-U",
                         self.user, self.dbname], env=env, deadline=deadline,
                        log_path=self.dir / "createdb.log", what="createdb", error=StartError)
        except BaseException:
            self.stop()
            raise
        log.info("PostgreSQL on %s:%s (%s)", HOST, self.port, self.dir)
        return self

    def _wait_accepting(self, port: int, deadline: float) -> bool:
        assert self._server is not None
        while time.monotonic() < deadline and self._server.running():
            # The log line is the signal that recovery is done and connections are accepted.
            if port_open(port, timeout=0.5) and "ready to accept connections" in tail(
                    self.log_path, 200):
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its files. Idempotent."""
        with self._lock:
            atexit.unregister(self.stop)
            if self._server is not None:
                self._server.stop(grace=30.0)
                self._server = None
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
