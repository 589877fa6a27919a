"""The tools of tests/terraform, in cached venvs outside the checkout.

Checkov's pins conflict with the dev venv, and checkov's bc-python-hcl2 and python-hcl2 both
install a module named ``hcl2``, so there are two venvs, each named by the hash of its pinned
requirements file and of the interpreter: ``tf-tools-<name>-<hash>/`` in the project's cache
(``$AIRHOOK_CACHE`` or ``~/.cache/airhook``, as for the local Airflow venvs). A venv is built in a
temporary directory and renamed into place under a file lock, so a half-built one is never used
and parallel runs build it once. The tests only run ``<venv>/bin/python -m ...`` or a script,
never a console-script shebang, so the rename breaks nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TERRAFORM = REPO / "terraform"
UV_VERSION = "0.13.8"  # only installed when no uv is at hand


def _cache_root() -> Path:
    return Path(os.environ.get("AIRHOOK_CACHE") or Path.home() / ".cache" / "airhook")


def _run(cmd: list[str]) -> None:
    env = dict(os.environ)
    env.setdefault("UV_CACHE_DIR", str(_cache_root() / "uv-cache"))
    env["UV_PYTHON_DOWNLOADS"] = "never"  # only package registries are reachable
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _find_uv() -> list[str] | None:
    beside = Path(sys.executable).with_name("uv")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("uv")
    return [found] if found else None


def _build(target: Path, requirements: Path) -> None:
    _run([sys.executable, "-m", "venv", "--without-pip", str(target)])
    python = target / "bin" / "python"
    uv = _find_uv()
    if uv is None:
        # A fresh machine: bring uv into the tools venv itself (pip ships with the interpreter).
        _run([str(python), "-m", "ensurepip", "--upgrade"])
        _run([str(python), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"])
        uv = [str(python), "-m", "uv"]
    # Bytecode now: the dev environment sets PYTHONDONTWRITEBYTECODE, and checkov is large.
    _run([*uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
          "-r", str(requirements)])


def ensure_venv(name: str, requirements: Path) -> Path:
    """The venv for ``requirements``, built on first use. Returns its python."""
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    root = _cache_root()
    final = root / f"tf-tools-{name}-{digest}"
    python = final / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".tf-tools-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists():  # built by another process while we waited
            return python
        scratch = Path(tempfile.mkdtemp(prefix=f".tf-tools-{name}-", dir=root))
        try:
            _build(scratch, requirements)
            scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return python


@dataclass(frozen=True)
class Tools:
    """Runs the helpers of tftool.py and checkov in their venvs."""

    hcl_python: Path
    checkov_python: Path

    def tftool(self, *args: str) -> Any:
        # No update check against HashiCorp's servers (unreachable here, and not wanted in tests).
        env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
        result = subprocess.run([str(self.hcl_python), str(HERE / "tftool.py"), *args],
                                capture_output=True, text=True, timeout=300, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"tftool {args[0]} failed:\n{result.stderr}")
        return json.loads(result.stdout)

    def checkov(self, directory: Path) -> subprocess.CompletedProcess[str]:
        # --skip-download: nothing fetched from Prisma Cloud (no guidelines or severities needed).
        return subprocess.run(
            [str(self.checkov_python), "-m", "checkov.main", "--directory", str(directory),
             "--framework", "terraform", "--output", "json", "--compact", "--quiet",
             "--skip-download", "--download-external-modules", "false"],
            capture_output=True, text=True, timeout=600, cwd=str(directory))
