"""Load generators: ``wrk`` with ``post.lua`` when it is installed, else a multi-process Python
generator. Both keep ``connections`` keep-alive connections busy for ``duration`` seconds, each
sending the same signed body with a fresh ``X-GitHub-Delivery``, and return the same summary:

``{"tool", "requests", "duration_us", "errors": {...}, "latency_us": {"mean", "p50", "p90",
"p99", "max"}, "cpu_s"}`` where ``cpu_s`` is the generator's own CPU time (to show it was not the
bottleneck).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LUA = HERE / "post.lua"


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, body_file: Path, signature: str, prefix: str, *, connections: int,
            duration: float, threads: int = 1, timeout: float = 10.0) -> dict[str, Any]:
    wrk = wrk_path()
    assert wrk is not None
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               f"--timeout={int(timeout)}s", "-s", str(LUA), url, "--", str(body_file), signature, prefix]
    before = _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    cpu = _children_cpu() - before
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    result: dict[str, Any] = json.loads(line[len("BENCH_JSON "):])
    result.update(tool="wrk", cpu_s=cpu)
    return result


# ---------------------------------------------------------------------------------- Python fallback


def _sender(host: str, port: int, path: str, body: bytes, signature: str, prefix: str,
            deadline: float, latencies: list[float], errors: dict[str, int]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    n = 0
    headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/bench",
               "X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
    while time.perf_counter() < deadline:
        n += 1
        headers["X-GitHub-Delivery"] = f"{prefix}-{n}"
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            reply = conn.getresponse()
            reply.read()
        except (OSError, http.client.HTTPException):
            errors["read"] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
            continue
        latencies.append(time.perf_counter() - start)
        if reply.status >= 400:
            errors["status"] += 1
    conn.close()


def _process(args: tuple[Any, ...]) -> tuple[list[float], dict[str, int], float]:
    host, port, path, body, signature, prefix, senders, start_at, duration = args
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + duration
    latencies: list[list[float]] = [[] for _ in range(senders)]
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    threads = [threading.Thread(target=_sender, args=(host, port, path, body, signature, f"{prefix}-{i}",
                                                      deadline, latencies[i], errors))
               for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time()
    return [x for group in latencies for x in group], errors, cpu


def run_python(host: str, port: int, path: str, body: bytes, signature: str, prefix: str, *,
               connections: int, duration: float) -> dict[str, Any]:
    processes = max(1, min(connections, os.cpu_count() or 1))
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    start_at = time.time() + 0.3
    jobs = [(host, port, path, body, signature, f"{prefix}-p{i}", shares[i], start_at, duration)
            for i in range(processes)]
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_process, jobs)
    elapsed = time.perf_counter() - began - 0.3
    latencies = sorted(x for part in parts for x in part[0])
    errors = {k: sum(p[1][k] for p in parts) for k in parts[0][1]}

    def pct(q: float) -> int:
        return int(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6) if latencies else 0

    return {"tool": f"python ({processes} processes x threads)", "requests": len(latencies),
            "duration_us": int(min(elapsed, duration) * 1e6), "bytes": 0, "errors": errors,
            "latency_us": {"mean": sum(latencies) / len(latencies) * 1e6 if latencies else 0.0,
                           "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
                           "max": int(latencies[-1] * 1e6) if latencies else 0},
            "cpu_s": sum(p[2] for p in parts)}
