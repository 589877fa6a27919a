"""Run the real ``airhook`` command in a subprocess, as a user or a CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Variables of the caller's environment that would change what the command reads.
_SCRUBBED = ("AIRHOOK_CONFIG", "AIRHOOK_URL", "GOOGLE_APPLICATION_CREDENTIALS", "GITHUB_TOKEN",
             "GH_TOKEN", "GITHUB_API_URL", "NO_COLOR")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def airhook(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            input: bytes | None = None, timeout: float = 120) -> Result:
    """``python -m airhook ARGS`` with a clean environment plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + environ["PYTHONPATH"] if environ.get("PYTHONPATH") else "")
    environ.update(env or {})
    done = subprocess.run([sys.executable, "-m", "airhook", *args], env=environ, cwd=str(cwd or ROOT),
                          input=input, capture_output=True, timeout=timeout)
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode())
