"""Start airhook under the production server (plain ``functions-framework``, i.e. gunicorn) on
127.0.0.1, for integration tests, ``make run`` and benchmarks. Stdlib only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools import procfs
from tools.ports import free_port
from tools.processes import kill_tree, tail

ROOT = Path(__file__).resolve().parent.parent


def functions_framework_bin() -> str:
    """The functions-framework script of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "functions-framework"
    return str(candidate) if candidate.exists() else "functions-framework"


class FunctionServer:
    """``functions-framework --target TARGET --source main.py`` with a given config and env.

    Its stdout (airhook's JSON log lines) goes to a file: :meth:`log_lines` parses them.
    """

    def __init__(self, config: str | Path | None, env: Mapping[str, str] | None = None, *,
                 target: str = "receive", port: int | None = None, source: Path = ROOT / "main.py",
                 environ: Mapping[str, str] | None = None, log_path: Path | None = None,
                 cwd: Path | None = None) -> None:
        """``config``: the routes file's text or path (None: ``AIRHOOK_CONFIG`` is left to ``env``,
        or the target needs none). ``env`` is added to ``environ``, the base environment (default:
        this process's, with ``PYTHONUNBUFFERED=1``; the benchmarks pass a scrubbed one, used as
        is). ``log_path`` defaults to a file in a temporary directory, ``cwd`` to the source's."""
        # Made only when needed: a config text to write or a log of our own.
        self.workdir: Path | None = None
        if config is None or isinstance(config, Path):
            self.config_path = config
        else:
            self.config_path = self._workdir() / "airhook.yaml"
            self.config_path.write_text(config)
        base = {**os.environ, "PYTHONUNBUFFERED": "1"} if environ is None else dict(environ)
        self.env = {**base, **(env or {})}
        if self.config_path is not None:
            self.env["AIRHOOK_CONFIG"] = str(self.config_path)
        self.target = target
        self.source = source
        self.cwd = cwd or source.parent
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or self._workdir() / "function.log"
        #: time.perf_counter() just before the process was started (cold-start measurements)
        self.started = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    def _workdir(self) -> Path:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="airhook-fn-"))
        return self.workdir

    def start(self, timeout: float = 30.0, *, wait: bool = True) -> FunctionServer:
        """Start the server and, with ``wait``, return once it answers (``/_health``). Without
        ``wait`` it returns at once (a caller timing the cold start polls on its own)."""
        log = self.log_path.open("ab")
        self.started = time.perf_counter()
        self._proc = subprocess.Popen(
            [functions_framework_bin(), "--target", self.target, "--source", str(self.source),
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=str(self.cwd), env=self.env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True)  # its own group: gunicorn's worker is stopped with it
        log.close()
        if not wait:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"functions-framework exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except urllib.error.HTTPError:
                return self  # an answer all the same: a CloudEvent target (deliver) takes only POST
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"functions-framework did not answer within {timeout}s:\n{self.log_tail()}")

    @property
    def pid(self) -> int | None:
        """gunicorn's master (the process group leader)."""
        return self._proc.pid if self._proc else None

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return None if self._proc is None else self._proc.poll()

    def worker_pid(self) -> int:
        """gunicorn's worker: the master's child, where requests are served."""
        assert self._proc is not None, "start() the server first"
        return procfs.children(self._proc.pid)[0]

    def cpu_seconds(self) -> float:
        """CPU used so far by the master, its worker(s) and anything they started."""
        assert self._proc is not None, "start() the server first"
        return procfs.tree_cpu_seconds(self._proc.pid)

    def stop(self) -> None:
        """Stop the server (idempotent). Its temporary directory is removed after the test that
        used it has read the log (see :meth:`__exit__`)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_tree(proc, grace=10.0)

    def __enter__(self) -> FunctionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the temporary directory (config copy and log) unless AIRHOOK_KEEP_HOME is set."""
        if not os.environ.get("AIRHOOK_KEEP_HOME") and self.workdir is not None and self.workdir.exists():
            self._final_log = self.log_text()  # still readable by the test after the block
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)

    def log_text(self) -> str:
        if self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return getattr(self, "_final_log", "")

    def log_lines(self) -> list[dict[str, Any]]:
        """airhook's structured lines (other output, e.g. gunicorn's, is skipped)."""
        lines = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines
