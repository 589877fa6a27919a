"""Airflow's virtualenvs: the recipe (requirements, resolution date), the cache they live in
(``$AIRHOOK_CACHE`` or ``~/.cache/airhook``, outside the checkout) and the build-once machinery
(file lock, temporary directory, completion marker, atomic rename), plus the uv bootstrap.

The cache key of a venv is a hash of :func:`_venv_spec`: changing anything in it (or ``_RECIPE``)
makes every machine build a new venv, so change it deliberately.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tools.processes import run_logged

from .errors import InstallError

log = logging.getLogger("airhook.local_airflow")

#: The versions the project tests against (one per REST API generation).
AIRFLOW2_VERSION = "2.11.2"
AIRFLOW3_VERSION = "3.3.2"
#: The oldest Airflow 2 a managed service still lists (MWAA 2.5.1): before 2.5.2 a trigger body
#: may not carry ``note``. Installed with OLD_AIRFLOW2_PINS.
AIRFLOW2_OLDEST_VERSION = "2.5.1"

INSTALL_TIMEOUT = 600.0  # seconds; a cold uv install takes a few seconds, pip ~20 s

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


def _run_logged(cmd: list[str], **kwargs: Any) -> None:
    """:func:`tools.processes.run_logged`, failing with InstallError."""
    run_logged(cmd, error=InstallError, **kwargs)


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
    if major(version) >= 3:
        reqs.append("asyncpg")
    if release(version) < (2, 7):
        reqs.extend(OLD_AIRFLOW2_PINS)
    return reqs


#: Airflow before 2.7 declares open ranges its code does not survive (pendulum 3 is not callable
#: as ``pendulum.tz.timezone``, SQLAlchemy 2, Flask 2.3...); its constraints files would pin them,
#: but are out of reach here. These are the bounds that make 2.5.1 (MWAA's oldest listed 2.x with
#: a REST API trigger body of its own) start on Python 3.11.
OLD_AIRFLOW2_PINS = ("pendulum<3", "sqlalchemy<2", "flask<2.3", "werkzeug<2.3", "flask-session<0.6",
                     "connexion<3", "marshmallow<3.20", "flask-sqlalchemy<3", "sqlalchemy-utils<0.42")


def release(version: str) -> tuple[int, ...]:
    """``"2.5.1"`` -> ``(2, 5, 1)``."""
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def major(version: str) -> int:
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


def uv_env(cache: Path) -> dict[str, str]:
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
    major(version)
    cache = cache or cache_dir()
    target = venv_path(version, cache)
    spec = _venv_spec(version)
    requirements: list[str] = spec["requirements"]

    def build(tmp: Path, deadline: float) -> None:
        uv = ensure_uv(cache, timeout=max(1.0, deadline - time.monotonic()))
        env = uv_env(cache)
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
