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

Environment: ``AIRHOOK_CACHE`` (cache root), ``AIRHOOK_KEEP_HOME=1`` (keep each AIRFLOW_HOME and its
logs after stopping), ``AIRHOOK_UV`` (use this uv binary instead of bootstrapping one),
``UV_CACHE_DIR`` (uv's download cache; default ``<cache>/uv-cache``).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

log = logging.getLogger("airhook.local_airflow")

#: The versions the project tests against (one per REST API generation).
AIRFLOW2_VERSION = "2.11.2"
AIRFLOW3_VERSION = "3.3.2"
#: The oldest Airflow 2 a managed service still lists (MWAA 2.5.1): before 2.5.2 a trigger body
#: may not carry ``note``. Installed with OLD_AIRFLOW2_PINS.
AIRFLOW2_OLDEST_VERSION = "2.5.1"
#: DAGs defined in examples/dags/airhook_demo.py.
DEMO_DAG_IDS: tuple[str, ...] = ("deploy", "billing_sync")
DEFAULT_DAGS_FOLDER = Path(__file__).resolve().parent.parent / "examples" / "dags"

INSTALL_TIMEOUT = 600.0  # seconds; a cold uv install takes a few seconds, pip ~20 s
START_TIMEOUT = 180.0  # seconds; a cold start to "DAGs ready" takes ~10-20 s
STOP_GRACE = 15.0  # seconds between SIGTERM and SIGKILL

USERNAME = "admin"
PASSWORD = "admin"
HOST = "127.0.0.1"

# Without Airflow's constraints files (unreachable here), uv resolves Airflow's open-ended
# dependency ranges; resolving as of a fixed date gives the same versions on every machine and day
# (a new release of some transitive dependency cannot break CI overnight). Move it deliberately.
RESOLVE_AS_OF = "2026-11-25T00:00:00Z"
# Bump when the recipe below changes in a way the spec doesn't show, so a new venv is built.
_RECIPE = 3
_MARKER = ".airhook-complete.json"
# Builds of an older recipe are deleted once unused for this long (not at once: a server started
# from one may still be running, e.g. in another checkout on another branch).
_UNUSED_BUILD_TTL = 7 * 24 * 3600.0

Db = Literal["postgres", "sqlite"]


class LocalAirflowError(RuntimeError):
    """Base class: anything the harness could not do."""


class InstallError(LocalAirflowError):
    """The Airflow virtualenv (or the uv bootstrap) could not be built."""


class StartError(LocalAirflowError):
    """Airflow or PostgreSQL did not come up; the message carries the tail of the logs."""


class ApiError(LocalAirflowError):
    """The Airflow REST API answered with an unexpected status."""

    def __init__(self, message: str, response: ApiResponse | None = None) -> None:
        super().__init__(message if response is None else f"{message}: {response}")
        self.response = response


# --------------------------------------------------------------------------------------------------
# Cache and virtualenvs
# --------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The cache root: ``$AIRHOOK_CACHE`` or ``~/.cache/airhook`` (created if missing)."""
    root = Path(os.environ.get("AIRHOOK_CACHE") or Path.home() / ".cache" / "airhook")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _python_tag() -> str:
    return f"py{sys.version_info.major}.{sys.version_info.minor}"


def _requirements(version: str) -> list[str]:
    # psycopg2 for the metadata DB on PostgreSQL (both generations); Airflow 3 also opens an async
    # engine on the same URL, which needs asyncpg.
    reqs = [f"apache-airflow=={version}", "psycopg2-binary"]
    if _major(version) >= 3:
        reqs.append("asyncpg")
    if _release(version) < (2, 7):
        reqs.extend(OLD_AIRFLOW2_PINS)
    return reqs


#: Airflow before 2.7 declares open ranges its code does not survive (pendulum 3 is not callable
#: as ``pendulum.tz.timezone``, SQLAlchemy 2, Flask 2.3...); its constraints files would pin them,
#: but are out of reach here. These are the bounds that make 2.5.1 (MWAA's oldest listed 2.x with
#: a REST API trigger body of its own) start on Python 3.11.
OLD_AIRFLOW2_PINS = ("pendulum<3", "sqlalchemy<2", "flask<2.3", "werkzeug<2.3", "flask-session<0.6",
                     "connexion<3", "marshmallow<3.20", "flask-sqlalchemy<3", "sqlalchemy-utils<0.42")


def _release(version: str) -> tuple[int, ...]:
    """``"2.5.1"`` -> ``(2, 5, 1)``."""
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        raise ValueError(f"not an Airflow version: {version!r}") from None


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float, what: str) -> Iterator[None]:
    """An exclusive fcntl lock, so two processes (pytest, make run, CI jobs) never build the same
    venv at once. Polls with LOCK_NB so a stuck holder turns into an error, not a hang."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InstallError(
                        f"timed out after {timeout:.0f}s waiting for {path} ({what} is being "
                        "built by another process)"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _marker_ok(target: Path, spec: Mapping[str, Any]) -> bool:
    try:
        return bool(json.loads((target / _MARKER).read_text())["spec"] == dict(spec))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _spec_dir(cache: Path, stem: str, spec: Mapping[str, Any]) -> Path:
    """``<cache>/<stem>-<hash of spec>``: a changed recipe gets a new directory instead of
    deleting one that a running Airflow may still be importing from."""
    digest = hashlib.sha256(json.dumps(dict(spec), sort_keys=True).encode()).hexdigest()[:8]
    return cache / f"{stem}-{digest}"


def _build_once(target: Path, spec: Mapping[str, Any], build: Callable[[Path, float], None],
                timeout: float) -> Path:
    """Return ``target``, building it first unless a complete build with the same ``spec`` exists.

    ``build(tmp, deadline)`` fills a temporary sibling directory; the marker is written last and the
    directory is then renamed into place atomically, so a crash never leaves a half-built ``target``
    that looks complete.
    """
    if _marker_ok(target, spec):
        _touch(target / _MARKER)
        return target
    started = time.monotonic()
    with _file_lock(target.with_name(target.name + ".lock"), timeout, target.name):
        # Leftovers of killed builds; safe to delete: only the lock holder creates them. (A build
        # killed with SIGKILL can leave its uv running a few more seconds, writing into its dir.)
        for stale in target.parent.glob(target.name + ".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if _marker_ok(target, spec):  # another process built it while we waited
            return target
        deadline = started + timeout
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        try:
            build(tmp, deadline)
            (tmp / _MARKER).write_text(
                json.dumps({"spec": dict(spec), "built_at": time.time()}, indent=2) + "\n"
            )
            if target.exists():  # an incomplete build of this very spec: nobody can be using it
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("built %s in %.1fs", target, time.monotonic() - started)
    _forget_unused_builds(target)
    return target


def _touch(path: Path) -> None:
    # The marker's mtime records the last use, for _forget_unused_builds.
    with contextlib.suppress(OSError):
        os.utime(path)


def _forget_unused_builds(target: Path) -> None:
    stem = target.name.rsplit("-", 1)[0]
    for other in target.parent.glob(f"{stem}-*"):
        marker = other / _MARKER
        if other == target or not other.is_dir() or ".tmp-" in other.name:
            continue
        with contextlib.suppress(OSError):
            if time.time() - marker.stat().st_mtime > _UNUSED_BUILD_TTL:
                log.info("deleting %s (unused for a week)", other)
                shutil.rmtree(other, ignore_errors=True)


def _run_logged(cmd: Sequence[str], *, env: Mapping[str, str] | None, deadline: float,
                log_path: Path, what: str, error: type[LocalAirflowError] = InstallError,
                cwd: Path | None = None, popen_kwargs: Mapping[str, Any] | None = None) -> None:
    """Run ``cmd`` to completion with its output appended to ``log_path``; raise ``error`` with the
    tail of that log if it fails or outlives ``deadline`` (time.monotonic())."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(list(cmd), env=None if env is None else dict(env), cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, **dict(popen_kwargs or {}))
        try:
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_tree(proc, grace=5.0)
            raise error(f"{what} timed out; log {log_path}:\n{_tail(log_path)}") from None
        except BaseException:
            _kill_tree(proc, grace=5.0)
            raise
    if rc != 0:
        raise error(f"{what} failed (exit {rc}); log {log_path}:\n{_tail(log_path)}")


def _uv_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    # A uv cache inside our cache dir keeps an empty $AIRHOOK_CACHE truly cold (and hardlinks work
    # because it sits on the same filesystem as the venvs); an explicit UV_CACHE_DIR wins.
    env.setdefault("UV_CACHE_DIR", str(cache / "uv-cache"))
    env["UV_PYTHON_DOWNLOADS"] = "never"  # only registries are reachable; use the local Python
    env["UV_NO_PROGRESS"] = "1"
    env.pop("VIRTUAL_ENV", None)
    return env


def ensure_uv(cache: Path | None = None, timeout: float = INSTALL_TIMEOUT) -> Path:
    """Path of a ``uv`` binary: ``$AIRHOOK_UV`` if set, else one pip-installed into
    ``<cache>/tools`` (uv is not on a clean machine, and it installs Airflow ~10x faster than pip)."""
    if os.environ.get("AIRHOOK_UV"):
        return Path(os.environ["AIRHOOK_UV"])
    cache = cache or cache_dir()
    target = _spec_dir(cache, f"uv-{_python_tag()}", {"tool": "uv"})

    def build(tmp: Path, deadline: float) -> None:
        log.info("bootstrapping uv into %s", target)
        install_log = target.with_name(target.name + ".install.log")
        _run_logged([sys.executable, "-m", "venv", str(tmp)], env=None, deadline=deadline,
                    log_path=install_log, what="python -m venv")
        _run_logged([str(tmp / "bin" / "python"), "-m", "pip", "install", "--quiet", "uv"],
                    env=None, deadline=deadline, log_path=install_log, what="pip install uv")

    # bin/uv is a real binary (not a script with a shebang), so it survives the rename.
    return _build_once(target, {"tool": "uv"}, build, timeout) / "bin" / "uv"


def _venv_spec(version: str) -> dict[str, Any]:
    return {"recipe": _RECIPE, "requirements": _requirements(version),
            "resolve_as_of": RESOLVE_AS_OF, "python": ".".join(map(str, sys.version_info[:3]))}


def venv_path(version: str, cache: Path | None = None) -> Path:
    """Where :func:`ensure_venv` puts the venv for ``version`` (it may not exist yet), e.g.
    ``~/.cache/airhook/airflow-3.3.2-py3.11-1a2b3c4d`` (the suffix hashes the recipe)."""
    return _spec_dir(cache or cache_dir(), f"airflow-{version}-{_python_tag()}",
                     _venv_spec(version))


def ensure_venv(version: str, *, cache: Path | None = None,
                timeout: float = INSTALL_TIMEOUT) -> Path:
    """Return a virtualenv with ``apache-airflow==version`` (plus DB drivers), building it if needed.

    Safe to call concurrently from several threads or processes: the build holds a file lock, runs
    in a temporary directory and is renamed into place with its completion marker, so a half-built
    venv is rebuilt, never used. Works from an empty cache.

    Raises:
        InstallError: uv or the install failed, or took longer than ``timeout`` seconds.
    """
    _major(version)
    cache = cache or cache_dir()
    target = venv_path(version, cache)
    spec = _venv_spec(version)
    requirements: list[str] = spec["requirements"]

    def build(tmp: Path, deadline: float) -> None:
        uv = ensure_uv(cache, timeout=max(1.0, deadline - time.monotonic()))
        env = _uv_env(cache)
        install_log = cache / f"{target.name}.install.log"
        install_log.unlink(missing_ok=True)
        log.info("installing %s into %s (log %s)", " ".join(requirements), target,
                 install_log)
        # --relocatable: the venv is built under a temporary name and renamed, and the `airflow`
        # console script must still work afterwards (Airflow 2 runs tasks as `airflow tasks run`).
        _run_logged([str(uv), "venv", "--quiet", "--relocatable", "--python", sys.executable,
                     str(tmp)], env=env, deadline=deadline, log_path=install_log, what="uv venv")
        # --compile-bytecode: the dev environment sets PYTHONDONTWRITEBYTECODE, so without .pyc
        # files every Airflow process (and, on 2.x, every task) recompiles Airflow on import:
        # ~3 s instead of ~1 s per `airflow` command.
        _run_logged([str(uv), "pip", "install", "--compile-bytecode", "--exclude-newer",
                     RESOLVE_AS_OF, "--python", str(tmp / "bin" / "python"), *requirements], env=env,
                    deadline=deadline, log_path=install_log,
                    what=f"installing apache-airflow=={version}")
        # Read the installed version from metadata: importing airflow would create ~/airflow.
        probe = subprocess.run(
            [str(tmp / "bin" / "python"), "-c",
             "import importlib.metadata as m; print(m.version('apache-airflow'))"],
            capture_output=True, text=True, timeout=60, check=False)
        if probe.stdout.strip() != version:
            raise InstallError(f"venv {tmp} has apache-airflow {probe.stdout.strip()!r}, "
                               f"expected {version}: {probe.stderr[-2000:]}")

    return _build_once(target, spec, build, timeout)


# --------------------------------------------------------------------------------------------------
# Processes: started in their own session, stopped by process group and tracked descendants
# --------------------------------------------------------------------------------------------------


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _proc_stat(pid: int) -> tuple[int, int, str, int] | None:
    """(ppid, pgrp, state, starttime) of a live PID from /proc, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()  # comm may contain spaces and parentheses
    return int(fields[1]), int(fields[2]), fields[0], int(fields[19])


def _tree(leader: int) -> set[tuple[int, int]]:
    """Live (pid, starttime) of ``leader``'s process group and of all its descendants.

    Descendants matter because some Airflow task runners call setpgid() and leave the group;
    the starttime guards against signalling a recycled PID later.
    """
    table: dict[int, tuple[int, int, str, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            table[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = {pid for pid, (_, pgrp, _, _) in table.items() if pgrp == leader}
    if leader in table:
        found.add(leader)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {(pid, table[pid][3]) for pid in found if table[pid][2] not in ("Z", "X")}


def _alive(pid: int, starttime: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[3] == starttime and stat[2] not in ("Z", "X")


def _signal_all(leader: int, targets: set[tuple[int, int]], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)
    for pid, start in targets:
        if _alive(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _wait_gone(proc: subprocess.Popen[Any], targets: set[tuple[int, int]], wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        proc.poll()  # reap the leader so it doesn't linger as a zombie
        targets |= _tree(proc.pid)  # e.g. a worker forked while shutting down
        if not any(_alive(pid, start) for pid, start in targets):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _kill_tree(proc: subprocess.Popen[Any], grace: float = STOP_GRACE,
               sig: int = signal.SIGTERM, leader_only: bool = False) -> None:
    """Send ``sig`` to ``proc``'s process group and its descendants (only to ``proc`` itself with
    ``leader_only``, for servers that manage their children, like postgres), wait up to ``grace``
    seconds, then SIGKILL whatever is left of the tree. ``proc`` must have been started with
    start_new_session=True, so its group is its own."""
    targets = _tree(proc.pid)
    if leader_only:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    else:
        _signal_all(proc.pid, targets, sig)
    if not _wait_gone(proc, targets, grace):
        log.warning("pid %s did not stop within %.0fs of signal %s; sending SIGKILL", proc.pid,
                    grace, sig)
        _signal_all(proc.pid, targets, signal.SIGKILL)
        _wait_gone(proc, targets, 5.0)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


class _Process:
    """One long-running command, in its own session, with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path,
                 log_path: Path, *, popen_kwargs: Mapping[str, Any] | None = None,
                 stop_signal: int = signal.SIGTERM, signal_leader_only: bool = False) -> None:
        self.name, self.argv, self.env, self.cwd, self.log_path = name, list(argv), env, cwd, log_path
        self.popen_kwargs = dict(popen_kwargs or {})
        self.stop_signal = stop_signal
        self.signal_leader_only = signal_leader_only
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            out.write(f"\n==== {time.strftime('%H:%M:%S')} $ {' '.join(self.argv)}\n".encode())
            out.flush()
            # Own session: Ctrl-C on pytest doesn't hit Airflow mid-teardown, and killpg() reaches
            # exactly this command's processes.
            self.popen = subprocess.Popen(self.argv, env=dict(self.env), cwd=self.cwd,
                                          stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          **self.popen_kwargs)

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return None if self.popen is None else self.popen.poll()

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace: float = STOP_GRACE) -> None:
        if self.popen is not None:
            began = time.monotonic()
            _kill_tree(self.popen, grace, self.stop_signal, leader_only=self.signal_leader_only)
            log.info("stopped %s (pid %s) in %.1fs", self.name, self.popen.pid,
                      time.monotonic() - began)
            self.popen = None


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the usual bind-to-0 race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


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
        self._server: _Process | None = None
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
            _run_logged([str(bindir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U",
                         self.user, "-E", "UTF8", "--no-sync"], env=env, deadline=deadline,
                        log_path=self.dir / "initdb.log", what="initdb", error=StartError,
                        cwd=self.dir, popen_kwargs=as_owner)
            # A given port may be taken and a random one raced for: retry random ones.
            for attempt in range(3):
                port = self.port or free_port()
                self._server = _Process(
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
                                     f"{self.log_path}:\n{_tail(self.log_path)}")
            _run_logged([str(bindir / "createdb"), "-h", HOST, "-p", str(self.port), "-U",
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
            if port_open(port, timeout=0.5) and "ready to accept connections" in _tail(
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


# --------------------------------------------------------------------------------------------------
# HTTP (stdlib; no proxies: everything is on 127.0.0.1)
# --------------------------------------------------------------------------------------------------

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ApiResponse:
    """A REST answer: status, decoded JSON body (or text if not JSON) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        return f"HTTP {self.status} {json.dumps(self.body)[:500] if self.body is not None else ''}"


def http_request(method: str, url: str, *, body: Any = None,
                 headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> ApiResponse:
    """One JSON request. HTTP error statuses are returned, not raised; connection errors raise
    OSError (urllib.error.URLError is one)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw, hdrs = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, raw, hdrs = err.code, err.read(), dict(err.headers or {})
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return ApiResponse(status, parsed, hdrs)


# --------------------------------------------------------------------------------------------------
# Airflow
# --------------------------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    # Inherited AIRFLOW* settings (a developer's own Airflow) must not leak into the harness.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy  # task processes call the API over httpx
    return env


class AirflowServer:
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
        self.major = _major(version)
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
        self._procs: dict[str, _Process] = {}
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
                    self._procs[name] = _Process(name, argv, self._env, self.home,
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
            _run_logged(self._airflow(*args), env=self._env, deadline=deadline,
                        log_path=setup_log, what=f"airflow {args[0]} {args[1]}",
                        error=StartError, cwd=self.home)

        if self.major >= 3:
            (self.home / "passwords.json").write_text(json.dumps({self.username: self.password}))
            run("db", "migrate")
        else:
            run("db", "migrate" if _release(self.version) >= (2, 7) else "upgrade")  # migrate: 2.7+
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
        return "\n".join(f"--- {name}: {path}\n{_tail(path, lines)}"
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
                    resp = self.request("GET", f"dags/{_q(pending[0])}")
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
            resp = self.request("PATCH", f"dags/{_q(dag_id)}", {"is_paused": False})
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

    # ---- REST ----

    def auth_headers(self, refresh: bool = False) -> dict[str, str]:
        """Authorization header: Basic for API v1, a cached JWT (POST /auth/token) for v2."""
        if self.major < 3:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        with self._token_lock:
            if self._token is None or refresh:
                resp = http_request("POST", f"{self.url}/auth/token",
                                    body={"username": self.username, "password": self.password})
                if resp.status not in (200, 201) or not isinstance(resp.body, dict):
                    raise ApiError("POST /auth/token failed", resp)
                self._token = str(resp.body["access_token"])
            return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, body: Any = None, *,
                timeout: float = 10.0) -> ApiResponse:
        """An authenticated call to ``/api/vX/<path>``; statuses are returned, not raised.

        Raises:
            OSError: the API is unreachable (e.g. after :meth:`stop_api`).
        """
        url = f"{self.api_url}/{path.lstrip('/')}"
        resp = http_request(method, url, body=body, headers=self.auth_headers(), timeout=timeout)
        if resp.status == 401 and self.major >= 3:  # token expired: fetch a new one, once
            resp = http_request(method, url, body=body, headers=self.auth_headers(refresh=True),
                                timeout=timeout)
        return resp

    def trigger(self, dag_id: str, run_id: str | None = None,
                conf: Mapping[str, Any] | None = None, note: str | None = None) -> ApiResponse:
        """A raw REST trigger (``POST /api/vX/dags/{dag_id}/dagRuns``), for comparing with airhook.

        v2 requires the ``logical_date`` key (null = now); v1 rejects it. The response is returned
        as is: 200 queued, 409 duplicate run id, 404 unknown DAG...
        """
        body: dict[str, Any] = {"conf": dict(conf or {})}
        if self.major >= 3:
            body["logical_date"] = None
        if run_id is not None:
            body["dag_run_id"] = run_id
        if note is not None:
            body["note"] = note
        return self.request("POST", f"dags/{_q(dag_id)}/dagRuns", body)

    def get_dag_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The DAG run, or None if Airflow has no such run (404)."""
        resp = self.request("GET", f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")
        if resp.status == 404:
            return None
        if resp.status != 200 or not isinstance(resp.body, dict):
            raise ApiError(f"GET dagRun {dag_id}/{run_id}", resp)
        return resp.body

    def list_dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` (all pages)."""
        runs: list[dict[str, Any]] = []
        while True:
            resp = self.request("GET", f"dags/{_q(dag_id)}/dagRuns?limit=100&offset={len(runs)}")
            if resp.status != 200 or not isinstance(resp.body, dict):
                raise ApiError(f"GET dagRuns of {dag_id}", resp)
            page = resp.body.get("dag_runs", [])
            runs.extend(page)
            if not page or len(runs) >= int(resp.body.get("total_entries", 0)):
                return runs

    def wait_for_run_state(self, dag_id: str, run_id: str,
                           states: Sequence[str] = ("success",), timeout: float = 60.0,
                           poll: float = 0.5) -> dict[str, Any]:
        """Poll the run until its state is in ``states``; return it.

        Raises:
            LocalAirflowError: the run ended in another final state (e.g. failed), or ``timeout``
                passed (the message gives the last state seen).
        """
        deadline = time.monotonic() + timeout
        run: dict[str, Any] | None = None
        while True:
            run = self.get_dag_run(dag_id, run_id)
            state = None if run is None else run.get("state")
            if run is not None and state in states:
                return run
            if state in ("success", "failed"):
                raise LocalAirflowError(f"run {dag_id}/{run_id} ended {state!r}, wanted "
                                        f"{list(states)}; task logs under {self.home}/logs")
            if time.monotonic() > deadline:
                raise LocalAirflowError(f"run {dag_id}/{run_id} still {state!r} after "
                                        f"{timeout:.0f}s, wanted {list(states)}")
            time.sleep(poll)


def _q(part: str) -> str:
    # Run ids may contain ':' '+' '/' (Airflow's own manual__2024-...+00:00): quote everything.
    return urllib.parse.quote(part, safe="")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _cmd_install(args: argparse.Namespace) -> int:
    for version in args.versions:
        began = time.monotonic()
        path = ensure_venv(version, timeout=args.timeout)
        print(f"apache-airflow=={version}: {path} ({time.monotonic() - began:.1f}s)", flush=True)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_requested.set()

    # Handlers before starting, so a Ctrl-C during startup still cleans up.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = AirflowServer(args.version, dags_folder=args.dags, db=args.db, port=args.port,
                           keep_home=args.keep_home)
    try:
        began = time.monotonic()
        server_thread_error: list[Exception] = []

        def boot() -> None:
            try:
                server.start(timeout=args.timeout)
                dag_ids = args.dag_ids or _dag_ids_hint(server.dags_folder)
                server.wait_ready(dag_ids, timeout=args.timeout)
            except Exception as exc:  # re-raised by the main thread
                server_thread_error.append(exc)

        # Start in a thread so SIGINT/SIGTERM during startup are noticed promptly.
        booter = threading.Thread(target=boot, daemon=True)
        booter.start()
        while booter.is_alive() and not stop_requested.is_set():
            booter.join(0.2)
        if stop_requested.is_set():
            log.info("interrupted during startup; stopping")
            server.stop()  # aborts the start as soon as its current step ends
            booter.join(START_TIMEOUT)
            return 130
        if server_thread_error:
            raise server_thread_error[0]
        if args.json:
            print(json.dumps(server.info(), sort_keys=True), flush=True)
        else:
            print(f"Airflow {server.version} ready in {time.monotonic() - began:.1f}s\n"
                  f"  url:      {server.url}   (REST API {server.api_url})\n"
                  f"  login:    {server.username} / {server.password}\n"
                  f"  database: {server.db} {server.sqlalchemy_url}\n"
                  f"  logs:     {server.log_dir}\n"
                  "Ctrl-C to stop.", flush=True)
        while not stop_requested.wait(1.0):
            server._check_processes()  # a crashed scheduler should end `make run` loudly
        return 0
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _dag_ids_hint(folder: Path) -> list[str]:
    # The demo DAGs when serving examples/dags; otherwise don't guess, just wait for health.
    return list(DEMO_DAG_IDS) if (folder / "airhook_demo.py").exists() else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_airflow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="build the Airflow venvs in the cache (no server)")
    inst.add_argument("versions", nargs="+", metavar="VERSION")
    inst.add_argument("--timeout", type=float, default=INSTALL_TIMEOUT)
    inst.set_defaults(func=_cmd_install)
    up = sub.add_parser("up", help="run Airflow in the foreground until Ctrl-C / SIGTERM")
    up.add_argument("--version", default=AIRFLOW3_VERSION)
    up.add_argument("--dags", type=Path, default=DEFAULT_DAGS_FOLDER)
    up.add_argument("--db", choices=("postgres", "sqlite"), default=None,
                    help="default: postgres for 3.x, sqlite for 2.x")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--dag-id", dest="dag_ids", action="append", default=None,
                    help="DAG to wait for and unpause (repeatable; default: the demo DAGs)")
    up.add_argument("--json", action="store_true", help="print one JSON line when ready")
    up.add_argument("--keep-home", action="store_true", default=None,
                    help="keep AIRFLOW_HOME (logs, DB) after stopping")
    up.add_argument("--timeout", type=float, default=START_TIMEOUT)
    up.set_defaults(func=_cmd_up)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s local_airflow: %(message)s", datefmt="%H:%M:%S")
    try:
        return int(args.func(args))
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
