"""Processes the harnesses start (Airflow, PostgreSQL, functions-framework, the Pub/Sub emulator):
each in its own session, with its output in a log file, and stopped through its process group and
its tracked descendants (never by name), so parallel harnesses and other users' processes are left
alone. Standard library only."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tools import procfs

log = logging.getLogger("airhook.tools")

STOP_GRACE = 15.0  # seconds between SIGTERM and SIGKILL


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (of its last 64 KiB), for error messages."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def run_logged(cmd: Sequence[str], *, env: Mapping[str, str] | None, deadline: float,
                log_path: Path, what: str, error: type[Exception] = RuntimeError,
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
            kill_tree(proc, grace=5.0)
            raise error(f"{what} timed out; log {log_path}:\n{tail(log_path)}") from None
        except BaseException:
            kill_tree(proc, grace=5.0)
            raise
    if rc != 0:
        raise error(f"{what} failed (exit {rc}); log {log_path}:\n{tail(log_path)}")


def _signal_all(leader: int, targets: set[tuple[int, int]], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)
    for pid, start in targets:
        if procfs.alive(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _wait_gone(proc: subprocess.Popen[Any], targets: set[tuple[int, int]], wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        proc.poll()  # reap the leader so it doesn't linger as a zombie
        targets |= procfs.group_and_descendants(proc.pid)  # e.g. a worker forked while shutting down
        if not any(procfs.alive(pid, start) for pid, start in targets):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def kill_tree(proc: subprocess.Popen[Any], grace: float = STOP_GRACE,
               sig: int = signal.SIGTERM, leader_only: bool = False) -> None:
    """Send ``sig`` to ``proc``'s process group and its descendants (only to ``proc`` itself with
    ``leader_only``, for servers that manage their children, like postgres), wait up to ``grace``
    seconds, then SIGKILL whatever is left of the tree. ``proc`` must have been started with
    start_new_session=True, so its group is its own."""
    targets = procfs.group_and_descendants(proc.pid)
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


class Process:
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
            kill_tree(self.popen, grace, self.stop_signal, leader_only=self.signal_leader_only)
            log.info("stopped %s (pid %s) in %.1fs", self.name, self.popen.pid,
                      time.monotonic() - began)
            self.popen = None
