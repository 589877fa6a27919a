"""The harness helpers the tests, tools and benchmarks share (tools/ports.py, tools/procfs.py,
tools/processes.py) and the local Airflow's venv cache key, which must not move by accident:
every machine would reinstall Airflow."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import procfs
from tools.local_airflow.install import _spec_dir, _venv_spec
from tools.ports import free_port, port_open
from tools.processes import kill_tree


@pytest.mark.parametrize("line, pid, state, ppid, pgrp, cpu_ticks, starttime", [
    # proc_pid_stat(5): comm in parentheses may hold spaces and ")" itself
    ("4242 (python3) S 1 4242 4242 0 -1 4194304 100 0 0 0 7 3 2 1 20 0 1 0 99887 1000 10 "
     "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
     4242, "S", 1, 4242, 13, 99887),
    ("17 (a (b) c) R 16 15 15 0 -1 0 0 0 0 0 100 50 0 0 20 0 1 0 5 0 0 0",
     17, "R", 16, 15, 150, 5),
    ("9 (gunicorn: worker [main:receive]) Z 8 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123 0 0",
     9, "Z", 8, 8, 0, 123),
])
def test_parse_stat(line: str, pid: int, state: str, ppid: int, pgrp: int, cpu_ticks: int,
                    starttime: int) -> None:
    st = procfs.parse_stat(line)
    assert (st.pid, st.state, st.ppid, st.pgrp, st.cpu_ticks, st.starttime) == (
        pid, state, ppid, pgrp, cpu_ticks, starttime)
    assert st.gone == (state == "Z")


def test_this_process_reads_back() -> None:
    me = procfs.stat(os.getpid())
    assert me is not None and me.ppid == os.getppid() and not me.gone
    assert procfs.identity(me.pid) == (me.pid, me.starttime)
    assert procfs.status_kb(me.pid, "VmRSS") > 0
    assert procfs.address_space_bytes() > 0
    assert procfs.stat(2**22 + 1) is None  # above pid_max: no such process


def test_free_port_is_free_and_port_open_sees_a_listener() -> None:
    port = free_port()
    assert not port_open(port, timeout=0.5)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert port_open(port, timeout=0.5)


def test_kill_tree_stops_the_group_and_descendants_that_left_it() -> None:
    # A child in the group and a grandchild in a session of its own (as Airflow's task runners
    # do): both are stopped, and nothing else.
    proc = subprocess.Popen([sys.executable, "-c",
                             "import os, subprocess, time\n"
                             "subprocess.Popen(['sleep', '60'])\n"
                             "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
                             "print('ready', flush=True)\n"
                             "time.sleep(60)\n"],
                            stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    tree = procfs.group_and_descendants(proc.pid)
    assert len(tree) == 3 and len(procfs.descendants(proc.pid)) == 2
    started = time.monotonic()
    kill_tree(proc, grace=5.0)
    assert time.monotonic() - started < 5.0  # SIGTERM was enough
    assert proc.returncode is not None
    assert not [pid for pid, start in tree if procfs.alive(pid, start)]


@pytest.mark.parametrize("version, key", [
    ("2.11.2", "airflow-2.11.2-py3.11-97f5a339"),
    ("3.3.2", "airflow-3.3.2-py3.11-d9417124"),
    ("2.5.1", "airflow-2.5.1-py3.11-c6ca9803"),
])
def test_venv_cache_key_is_stable(version: str, key: str) -> None:
    # The key hashes the recipe and the interpreter's version; pinned for the dev venv's 3.11.7.
    spec = {**_venv_spec(version), "python": "3.11.7"}
    assert _spec_dir(Path("/cache"), f"airflow-{version}-py3.11", spec).name == key
