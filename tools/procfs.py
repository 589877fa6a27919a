"""Linux /proc, parsed once for the tests, tools and benchmarks: a process's stat line, its
children and descendants, its memory and CPU, and the machine's busy time. Standard library only.

Field numbers follow proc_pid_stat(5); ``comm`` (field 2) may hold spaces and parentheses, so a
stat line is split after its last ``)``.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

#: Clock ticks per second: the unit of the CPU times in /proc/<pid>/stat and /proc/stat.
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    """The fields of ``/proc/<pid>/stat`` the harnesses use (times in clock ticks)."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    starttime: int

    @property
    def gone(self) -> bool:
        """A zombie or dead process: it runs no code any more."""
        return self.state in ("Z", "X")

    @property
    def cpu_ticks(self) -> int:
        """Its own CPU time plus that of its reaped children (utime + stime + cutime + cstime)."""
        return self.utime + self.stime + self.cutime + self.cstime


def stat(pid: int) -> Stat | None:
    """``/proc/<pid>/stat`` of a live (or zombie) PID, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return parse_stat(raw)


def parse_stat(line: str) -> Stat:
    """One ``/proc/<pid>/stat`` line."""
    fields = line[line.rindex(")") + 2:].split()  # from field 3, "state", on
    return Stat(pid=int(line[:line.index(" ")]), state=fields[0], ppid=int(fields[1]),
                pgrp=int(fields[2]), utime=int(fields[11]), stime=int(fields[12]),
                cutime=int(fields[13]), cstime=int(fields[14]), starttime=int(fields[19]))


def table() -> dict[int, Stat]:
    """Every process's stat (those that exit while being read are skipped)."""
    found: dict[int, Stat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := stat(int(entry))) is not None:
            found[st.pid] = st
    return found


def descendants(pid: int, processes: dict[int, Stat] | None = None) -> list[int]:
    """Every descendant of ``pid`` (children first), from ``processes`` or a fresh :func:`table`."""
    children: dict[int, list[int]] = {}
    for st in (processes if processes is not None else table()).values():
        children.setdefault(st.ppid, []).append(st.pid)
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def group_and_descendants(leader: int) -> set[tuple[int, int]]:
    """Live ``(pid, starttime)`` of ``leader``, its process group and all their descendants.

    Descendants matter because some children call setpgid() and leave the group (Airflow's task
    runners); the starttime guards against signalling a recycled PID later (see :func:`alive`).
    """
    processes = table()
    found = {st.pid for st in processes.values() if st.pgrp == leader}
    if leader in processes:
        found.add(leader)
    for pid in list(found):
        found.update(descendants(pid, processes))
    return {(pid, processes[pid].starttime) for pid in found
            if pid in processes and not processes[pid].gone}


def identity(pid: int) -> tuple[int, int] | None:
    """``(pid, starttime)`` of a live process: names it even if its PID is later reused."""
    st = stat(pid)
    return None if st is None or st.gone else (pid, st.starttime)


def alive(pid: int, starttime: int) -> bool:
    """Whether the process named by :func:`identity` still runs."""
    return identity(pid) == (pid, starttime)


def children(pid: int) -> list[int]:
    """The children of ``pid``'s main thread (``/proc/<pid>/task/<pid>/children``), e.g. gunicorn's
    worker under its master."""
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(part) for part in fh.read().split()]


def status_kb(pid: int, name: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``, ...); 0 if absent."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(name):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` itself, in seconds (0.0 if it is gone)."""
    st = stat(pid)
    return 0.0 if st is None else (st.utime + st.stime) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its live descendants, plus cutime + cstime (children that
    already exited and were reaped), in seconds."""
    total = 0
    for p in [pid, *descendants(pid)]:
        st = stat(p)
        if st is not None:
            total += st.cpu_ticks
    return total / CLK_TCK


def address_space_bytes(pid: int | str = "self") -> int:
    """Total program size (``/proc/<pid>/statm`` field 1) in bytes."""
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (all cores, not idle/iowait),
    from the first line of ``/proc/stat``."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK
