"""airhook benchmark (issue 2, "Benchmark"): four functions side by side in one run on 127.0.0.1.

    (a) floor     bench/targets/floor.py     a function that returns 200
    (b) airhook   main.py                    verify + route + forward (config written by this script)
    (c) relay     bench/targets/relay.py     HMAC + json.loads + one module-level requests.Session
    (d) composer  bench/targets/composer.py  Google's Composer sample: new AuthorizedSession per request

Each runs under the production server, plain ``functions-framework --target receive --source FILE
--host 127.0.0.1 --port P`` (gunicorn, 1 worker, os.cpu_count()*4 threads; never ``--debug``), takes
8 concurrent senders of a signed ~2 KB GitHub push for a warm-up and then ``--duration`` seconds
(split into ``--rounds`` windows interleaved across the targets), and forwards to an Airflow
stand-in (bench/standin.py) that answers at once over TLS, in its own process. Then: a 25 MB
delivery to (b), valid and badly signed, against HMAC-SHA256 + json.loads of the same bytes in this
process, and the cold start of (a) and (b). Every process it starts, it stops by PID.

    .venv/bin/python bench/run.py [--duration 10] [--json bench/results/run.json]

See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, bench/ is sys.path[0]: look there last, so no file of ours can ever shadow a
# standard-library module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE), str(ROOT)]

import bodies  # noqa: E402
import certs  # noqa: E402
import loadgen  # noqa: E402

from tools.function_server import FunctionServer  # noqa: E402
from tools.procfs import machine_busy_seconds, tree_cpu_seconds  # noqa: E402

HOST = "127.0.0.1"
PATH = "/github"
TOKEN = "bench-token"


@dataclass(frozen=True)
class Target:
    key: str
    name: str
    source: Path
    #: checks one 200 reply to a signed delivery (raises RuntimeError with the reason)
    check: Callable[[int, bytes], None] | None = None


def _check_airhook(status: int, body: bytes) -> None:
    reply = json.loads(body)
    runs = reply.get("runs") or []
    if not (status == 200 and runs and runs[0].get("status") == "queued"):
        raise RuntimeError(f"airhook did not queue a run: {status} {body[:300]!r}")


TARGETS = {
    "a": Target("a", "floor (returns 200)", HERE / "targets" / "floor.py"),
    "b": Target("b", "airhook", ROOT / "main.py", _check_airhook),
    "c": Target("c", "minimal relay (requests.Session)", HERE / "targets" / "relay.py"),
    "d": Target("d", "Composer sample pattern", HERE / "targets" / "composer.py"),
}

# ------------------------------------------------------------------------------------ processes


def machine_load(seconds: float = 1.0) -> float:
    """Cores busy over ``seconds`` (what else runs here: another test suite skews every number)."""
    before, t0 = machine_busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / (time.perf_counter() - t0)


def wait_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait up to ``limit`` seconds for the machine to be idle; the last load seen."""
    deadline = time.perf_counter() + limit
    load = machine_load()
    while load > threshold and time.perf_counter() < deadline:
        print(f"bench: machine busy ({load:.2f} cores used by other processes), waiting ...",
              file=sys.stderr, flush=True)
        time.sleep(4)
        load = machine_load()
    return load


class OtherLoad:
    """Cores used by processes outside the benchmark while a phase runs: machine-wide busy time
    minus this process, its reaped children (servers that were stopped) and the stand-in."""

    def __init__(self, standin_cpu: Callable[[], float]) -> None:
        self.standin_cpu = standin_cpu

    def __enter__(self) -> OtherLoad:
        self.t0, self.busy0 = time.perf_counter(), machine_busy_seconds()
        self.own0, self.standin0 = self._own(), self.standin_cpu()
        return self

    @staticmethod
    def _own() -> float:
        import resource
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def __exit__(self, *exc: Any) -> None:
        elapsed = time.perf_counter() - self.t0
        ours = (self._own() - self.own0) + (self.standin_cpu() - self.standin0)
        self.cores = round(max(0.0, machine_busy_seconds() - self.busy0 - ours) / elapsed, 2)


def stop_pid(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM to a single-process child we started (the stand-in), SIGKILL if it outlives
    ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def function_server(target: Target, env: dict[str, str], log: Path) -> FunctionServer:
    """One ``functions-framework`` process (gunicorn master) and its worker for ``target``, with
    exactly ``env`` (AIRHOOK_CONFIG included) as its environment; not started."""
    return FunctionServer(None, source=target.source, environ=env, log_path=log, cwd=ROOT)


# ------------------------------------------------------------------------------------ requests


def post(port: int, body: bytes, signature: str, delivery: str, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", PATH, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/bench",
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def first_200(server: FunctionServer, target: Target, body: bytes, signature: str, deadline: float = 30.0) -> float:
    """Seconds from the server's process start to its first 200 to a signed delivery. Connection
    refusals (not yet listening) are retried every 2 ms; any other answer is an error."""
    limit = server.started + deadline
    while True:
        if server.exit_code() is not None:
            raise RuntimeError(f"{target.name} exited with {server.exit_code()}; see {server.log_path}")
        try:
            status, reply = post(server.port, body, signature, f"cold-{uuid.uuid4()}")
        except (ConnectionRefusedError, ConnectionResetError):
            if time.perf_counter() > limit:
                raise RuntimeError(f"{target.name} not answering after {deadline}s; see {server.log_path}") from None
            time.sleep(0.002)
            continue
        elapsed = time.perf_counter() - server.started
        if status != 200:
            raise RuntimeError(f"{target.name} answered {status}: {reply[:300]!r}")
        if target.check:
            target.check(status, reply)
        return elapsed


class StandIn:
    """bench/standin.py in its own process."""

    def __init__(self, tls: certs.TlsFiles, log: Path) -> None:
        self.tls = tls
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "standin.py"), "--cert", str(tls.cert),
                                      "--key", str(tls.key)], stdout=subprocess.PIPE,
                                     stderr=self.log, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the stand-in did not start; see {log}")
        self.port = int(json.loads(line)["port"])
        self.url = f"https://{HOST}:{self.port}"
        import ssl
        self._context = ssl.create_default_context(cafile=str(tls.ca))

    def stats(self) -> dict[str, int]:
        conn = http.client.HTTPSConnection(HOST, self.port, context=self._context, timeout=10)
        try:
            conn.request("GET", "/_stats")
            return json.loads(conn.getresponse().read())  # type: ignore[no-any-return]
        finally:
            conn.close()

    def cpu(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_pid(self.proc)
        self.log.close()


# ------------------------------------------------------------------------------------ phases


def write_airhook_config(directory: Path, airflow_url: str, ca: Path) -> Path:
    path = directory / "airhook.bench.yaml"
    path.write_text(f"""# written by bench/run.py: the stand-in over TLS, one route that the bench body matches
airflow:
  url: {airflow_url}
  api: v2
  auth: {{type: bearer, token: "${{BENCH_TOKEN}}"}}
  timeout: 8
  verify_tls: "{ca}"
sources:
  github:
    type: github
    secrets: ["${{BENCH_SECRET}}"]
routes:
  - name: deploy-main
    source: github
    events: [push]
    when: "body.ref == 'refs/heads/main'"
    dag_id: deploy
    conf:
      sha: body.after
      repo: body.repository.full_name
      pusher: body.pusher.name
""", encoding="utf-8")
    return path


#: Unset for the functions: gunicorn/functions-framework tuning (the production defaults are the
#: point), and what Cloud Functions does not set but a workstation may: a CA-bundle override that
#: requests would prefer to a Session's own ``verify``, and proxies (everything here is loopback).
SCRUBBED_ENV = ("THREADS", "WORKERS", "GUNICORN_CMD_ARGS", "PYTHONDEVMODE", "PYTHONTRACEMALLOC",
                "PYTHONPROFILEIMPORTTIME", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY",
                "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def server_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.upper() not in SCRUBBED_ENV}


def load(server: FunctionServer, body_file: Path, body: bytes, signature: str, *, generator: str,
         connections: int, duration: float, prefix: str) -> dict[str, Any]:
    url = f"http://{HOST}:{server.port}{PATH}"
    if generator == "wrk":
        return loadgen.run_wrk(url, body_file, signature, prefix, connections=connections, duration=duration)
    return loadgen.run_python(HOST, server.port, PATH, body, signature, prefix,
                              connections=connections, duration=duration)


def segment(server: FunctionServer, standin: StandIn, body_file: Path, body: bytes, signature: str,
            args: argparse.Namespace, seconds: float, prefix: str) -> dict[str, Any]:
    """One measured window of load on ``server``, with every counter read around it."""
    runs_before, standin_before = standin.stats()["dag_runs"], standin.cpu()
    cpu_before, busy_before = server.cpu_seconds(), machine_busy_seconds()
    result = load(server, body_file, body, signature, generator=args.loadgen,
                  connections=args.connections, duration=seconds, prefix=prefix)
    cpu_after, busy_after = server.cpu_seconds(), machine_busy_seconds()
    runs_after, standin_after = standin.stats()["dag_runs"], standin.cpu()
    result.update(server_cpu_s=cpu_after - cpu_before, standin_cpu_s=standin_after - standin_before,
                  forwarded=runs_after - runs_before, busy_s=busy_after - busy_before)
    return result


def summarize(target: Target, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from a target's segments: sums of counts and CPU; with several segments the latency
    percentiles are combined (request-weighted mean of the p50s, highest p99 and max)."""
    requests = sum(x["requests"] for x in segments)
    seconds = sum(x["duration_us"] for x in segments) / 1e6
    server_cpu = sum(x["server_cpu_s"] for x in segments)
    standin_cpu = sum(x["standin_cpu_s"] for x in segments)
    loadgen_cpu = sum(x["cpu_s"] for x in segments)
    busy = sum(x["busy_s"] for x in segments)
    errors = {k: sum(x["errors"][k] for x in segments) for k in segments[0]["errors"]}

    def per_request(value: float) -> float | None:
        return round(value * 1000 / requests, 3) if requests else None

    p50 = sum(x["latency_us"]["p50"] * x["requests"] for x in segments) / requests if requests else 0.0
    return {
        "target": target.key, "name": target.name, "source": str(target.source.relative_to(ROOT)),
        "requests": requests, "seconds": round(seconds, 3), "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(p50 / 1000, 3),
        "p90_ms": max(x["latency_us"]["p90"] for x in segments) / 1000,
        "p99_ms": max(x["latency_us"]["p99"] for x in segments) / 1000,
        "max_ms": max(x["latency_us"]["max"] for x in segments) / 1000,
        "server_cpu_s": round(server_cpu, 3), "cpu_ms_per_req": per_request(server_cpu),
        "server_cpu_util": round(server_cpu / seconds, 3) if seconds else None,
        "forwarded": sum(x["forwarded"] for x in segments),
        "standin_cpu_ms_per_req": per_request(standin_cpu),
        "loadgen": segments[0]["tool"], "loadgen_cpu_ms_per_req": per_request(loadgen_cpu),
        "errors": errors, "error_count": sum(errors.values()),
        # cores used by processes outside the benchmark during the windows (should be ~0)
        "other_load_cores": round(max(0.0, busy - server_cpu - standin_cpu - loadgen_cpu) / seconds, 2) if seconds else None,
        "segments": [{"requests": x["requests"], "rps": round(x["requests"] / (x["duration_us"] / 1e6), 1),
                      "p50_ms": x["latency_us"]["p50"] / 1000, "p99_ms": x["latency_us"]["p99"] / 1000,
                      "cpu_ms_per_req": round(x["server_cpu_s"] * 1000 / x["requests"], 3) if x["requests"] else None}
                     for x in segments],
    }


def measure_all(keys: str, env: dict[str, str], tmp: Path, standin: StandIn, body_file: Path, body: bytes,
                signature: str, args: argparse.Namespace, big: bytes | None, secret: bytes) -> dict[str, Any]:
    """Start every target's server, check and warm each, then ``--rounds`` rounds of
    ``--duration / --rounds`` seconds per target, interleaved (a, b, c, d, a, b, ...), so a change
    in the machine's load hits every target alike. Then the 25 MB deliveries to (b)."""
    servers: dict[str, FunctionServer] = {}
    out: dict[str, Any] = {"targets": {}}
    try:
        for key in keys:
            print(f"bench: start and warm up ({key}) {TARGETS[key].name} ...", file=sys.stderr, flush=True)
            server = servers[key] = function_server(TARGETS[key], env, tmp / f"server-{key}.log")
            server.start(wait=False)
            first_200(server, TARGETS[key], body, signature)
            if args.warmup > 0:
                load(server, body_file, body, signature, generator=args.loadgen, connections=args.connections,
                     duration=args.warmup, prefix=f"warm-{key}-{uuid.uuid4().hex[:8]}")
        segments: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
        for r in range(args.rounds):
            for key in keys:
                print(f"bench: round {r + 1}/{args.rounds} ({key}) {TARGETS[key].name} ...", file=sys.stderr, flush=True)
                segments[key].append(segment(servers[key], standin, body_file, body, signature, args,
                                             args.duration / args.rounds, f"{key}{r}-{uuid.uuid4().hex[:8]}"))
        for key in keys:
            out["targets"][key] = summarize(TARGETS[key], segments[key])
        if big is not None and "b" in servers:
            for key, server in servers.items():
                if key != "b":
                    server.stop()  # the 25 MB deliveries run on a machine with only (b) up
            print("bench: 25 MB deliveries to (b) ...", file=sys.stderr, flush=True)
            out["big"] = big_deliveries(servers["b"], big, secret, args.big_runs, standin.cpu)
    finally:
        for server in servers.values():
            server.stop()
    return out


def cold_starts(keys: str, env: dict[str, str], tmp: Path, body: bytes, signature: str,
                runs: int) -> dict[str, dict[str, Any]]:
    """Process start to first 200, ``runs`` times per target, interleaved (a, b, a, b, ...) so a
    change in the machine's load hits both alike. Also the CPU the server's processes had used by
    then (less sensitive to other load than the wall time)."""
    times: dict[str, list[float]] = {key: [] for key in keys}
    cpus: dict[str, list[float]] = {key: [] for key in keys}
    for _ in range(runs):
        for key in keys:
            server = function_server(TARGETS[key], env, tmp / f"cold-{key}.log")
            server.start(wait=False)
            try:
                times[key].append(first_200(server, TARGETS[key], body, signature))
                cpus[key].append(server.cpu_seconds())
            finally:
                server.stop()
    return {key: {"runs_ms": [round(t * 1000, 1) for t in times[key]],
                  "median_ms": round(statistics.median(times[key]) * 1000, 1),
                  "cpu_runs_ms": [round(c * 1000) for c in cpus[key]],
                  "cpu_median_ms": round(statistics.median(cpus[key]) * 1000, 1)} for key in keys}


def baseline_once(secret: bytes, big: bytes) -> dict[str, float]:
    """HMAC-SHA256 + json.loads of the large body in this process: wall and CPU seconds."""
    c0, t0 = time.process_time(), time.perf_counter()
    hmac.new(secret, big, hashlib.sha256).hexdigest()
    t1 = time.perf_counter()
    json.loads(big)  # the document is freed before t2, as a server frees it after answering
    t2, c2 = time.perf_counter(), time.process_time()
    return {"hmac_s": t1 - t0, "loads_s": t2 - t1, "cpu_s": c2 - c0}


def big_deliveries(server: FunctionServer, big: bytes, secret: bytes, repeats: int,
                   standin_cpu: Callable[[], float]) -> dict[str, Any]:
    """``repeats`` rounds of: the in-process baseline, one valid and one badly signed delivery of
    ``big`` (interleaved, so a change in the machine's load hits all three alike); medians."""
    good, bad = bodies.sign(secret, big), bodies.sign(b"not-the-secret", big)
    samples: dict[str, list[dict[str, Any]]] = {"valid": [], "bad_signature": []}
    bases = []
    for _ in range(repeats):
        bases.append(baseline_once(secret, big))
        for kind, signature in (("valid", good), ("bad_signature", bad)):
            busy0, own0, standin0 = machine_busy_seconds(), time.process_time(), standin_cpu()
            cpu0 = server.cpu_seconds()
            t0 = time.perf_counter()
            status, reply = post(server.port, big, signature, f"big-{kind}-{uuid.uuid4()}", timeout=120)
            elapsed = time.perf_counter() - t0
            time.sleep(0.05)  # let the worker finish its log line before reading its CPU
            cpu = server.cpu_seconds() - cpu0
            ours = cpu + (time.process_time() - own0) + (standin_cpu() - standin0)
            other = max(0.0, machine_busy_seconds() - busy0 - ours) / (elapsed + 0.05)
            samples[kind].append({"status": status, "ms": round(elapsed * 1000, 1),
                                  "server_cpu_ms": round(cpu * 1000, 1), "other_load_cores": round(other, 2),
                                  "reply": reply[:200].decode("utf-8", "replace")})
    med = {k: statistics.median(b[k] for b in bases) for k in ("hmac_s", "loads_s", "cpu_s")}
    total = med["hmac_s"] + med["loads_s"]
    out: dict[str, Any] = {
        "bytes": len(big), "commits": len(json.loads(big)["commits"]),
        "baseline": {"hmac_ms": round(med["hmac_s"] * 1000, 1), "json_loads_ms": round(med["loads_s"] * 1000, 1),
                     "total_ms": round(total * 1000, 1), "cpu_ms": round(med["cpu_s"] * 1000, 1),
                     "hmac_gb_per_s": round(len(big) / med["hmac_s"] / 1e9, 2),
                     "runs_total_ms": [round((b["hmac_s"] + b["loads_s"]) * 1000, 1) for b in bases]}}
    for kind, expect in (("valid", 200), ("bad_signature", 401)):
        runs = samples[kind]
        middle = sorted(runs, key=lambda x: x["ms"])[len(runs) // 2]
        out[kind] = {**middle, "ms": statistics.median(x["ms"] for x in runs),
                     "server_cpu_ms": statistics.median(x["server_cpu_ms"] for x in runs),
                     "expected_status": expect, "samples": runs}
    return out


# ------------------------------------------------------------------------------------ report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(result: dict[str, Any]) -> str:
    meta, rows = result["meta"], result["targets"]
    lines = [
        f"airhook bench  {meta['date']}  commit {meta['git']}  python {meta['python']}"
        f"  functions-framework {meta['functions_framework']} (gunicorn {meta['gunicorn']}: 1 worker x {meta['threads']} threads)"
        f"  {meta['cpus']} cpus",
        f"load generator: {meta['loadgen']}, {meta['connections']} connections, {meta['warmup']:g} s warm-up"
        f" + {meta['duration']:g} s per target in {meta['rounds']} interleaved rounds; body {meta['body_bytes']} B signed GitHub push;"
        f" Airflow stand-in over TLS in its own process; machine load before start {meta['load_before']:.2f} cores",
        "",
        f"{'target':<38}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>11}{'CPU use':>8}{'fwd':>6}"
        f"{'err':>5}{'stand-in':>9}{'loadgen':>8}{'other':>7}",
    ]
    for key in ("a", "b", "c", "d"):
        r = rows.get(key)
        if r is None:
            continue
        fwd = "-" if key == "a" or not r["requests"] else f"{min(r['forwarded'] / r['requests'], 9.99) * 100:.0f}%"
        lines.append(f"({key}) {r['name']:<34}{r['rps']:>7.0f}{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}"
                     f"{r['cpu_ms_per_req']:>11.3f}{r['server_cpu_util'] * 100:>7.0f}%{fwd:>6}{r['error_count']:>5}"
                     f"{r['standin_cpu_ms_per_req']:>9.3f}{r['loadgen_cpu_ms_per_req']:>8.3f}{r['other_load_cores']:>7.2f}")
    cold = result.get("cold_start", {})
    if cold:
        lines.append("")
        for key, c in cold.items():
            lines.append(f"cold start ({key}) {TARGETS[key].name:<27} median {c['median_ms']:>6.1f} ms"
                         f" (server CPU {c['cpu_median_ms']:.0f} ms)   runs {c['runs_ms']}"
                         f"   other load {c['other_load_cores']:.2f}")
    big = result.get("big")
    if big:
        base = big["baseline"]
        lines.append("")
        lines.append(f"25 MB delivery to (b): {big['bytes']:,} B, {big['commits']:,} commits")
        lines.append(f"  baseline in this process: HMAC-SHA256 {base['hmac_ms']} ms ({base['hmac_gb_per_s']} GB/s)"
                     f" + json.loads {base['json_loads_ms']} ms = {base['total_ms']} ms   runs {base['runs_total_ms']}")
        for kind in ("valid", "bad_signature"):
            x = big[kind]
            lines.append(f"  {kind:<14} -> {x['status']} in {x['ms']:>7.1f} ms = {x['ms'] / base['total_ms']:.2f}x baseline;"
                         f" server CPU {x['server_cpu_ms']:.0f} ms   runs {[y['ms'] for y in x['samples']]}"
                         f"   other load {max(y['other_load_cores'] for y in x['samples']):.2f}")
    lines.append("")
    lines.append("targets (issue 2):")
    for check in result["checks"]:
        lines.append(f"  {check['verdict']:<5} {check['name']:<42} {check['value']:<42} target {check['target']}")
    for line in result.get("info", []):
        lines.append(f"  info  {line}")
    return "\n".join(lines)


def checks(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    rows, out, info = result["targets"], [], []

    def add(name: str, ok: bool, value: str, target: str) -> None:
        out.append({"name": name, "verdict": verdict(ok), "pass": ok, "value": value, "target": target})

    b = rows.get("b")
    for other, goal in (("c", 1.3), ("d", 2.0)):
        o = rows.get(other)
        if b and o and o["rps"]:
            ratio = b["rps"] / o["rps"]
            add(f"throughput b/{other}", ratio >= goal, f"{ratio:.2f} ({b['rps']:.0f} / {o['rps']:.0f} req/s)", f">= {goal}")
            cpu = o["cpu_ms_per_req"] / b["cpu_ms_per_req"] if b["cpu_ms_per_req"] else 0.0
            info.append(f"CPU per delivery {other}/b = {cpu:.2f} ({o['cpu_ms_per_req']:.3f} / {b['cpu_ms_per_req']:.3f} ms)")
    a = rows.get("a")
    if a and b:
        info.append(f"b over the floor: {b['cpu_ms_per_req'] - a['cpu_ms_per_req']:.3f} ms CPU per delivery "
                    f"(a {a['cpu_ms_per_req']:.3f}, b {b['cpu_ms_per_req']:.3f})")
    busy = [f"({k}) {r['other_load_cores']:.2f}" for k, r in rows.items() if r["other_load_cores"] > 0.15]
    busy += [f"cold ({k}) {c['other_load_cores']:.2f}" for k, c in result.get("cold_start", {}).items()
             if c["other_load_cores"] > 0.15]
    big = result.get("big")
    if big:
        worst = max(y["other_load_cores"] for k in ("valid", "bad_signature") for y in big[k]["samples"])
        if worst > 0.15:
            busy.append(f"25 MB {worst:.2f}")
    if busy:
        info.append("WARNING other processes used CPU during the run (cores): " + ", ".join(busy)
                    + "; numbers are skewed, rerun on a quiet machine (--wait-quiet 120)")
    for key, r in rows.items():
        if r["error_count"]:
            info.append(f"({key}) had {r['error_count']} errors: {r['errors']}")
        if key != "a" and r["forwarded"] < r["requests"]:
            info.append(f"({key}) forwarded {r['forwarded']} of {r['requests']} answered deliveries")
    cold = result.get("cold_start", {})
    if "a" in cold and "b" in cold:
        ratio = cold["b"]["median_ms"] / cold["a"]["median_ms"]
        add("cold start b/a", ratio <= 1.3, f"{ratio:.2f} ({cold['b']['median_ms']:.0f} / {cold['a']['median_ms']:.0f} ms)", "<= 1.3")
        if cold["a"]["cpu_median_ms"]:
            info.append(f"cold start CPU b/a = {cold['b']['cpu_median_ms'] / cold['a']['cpu_median_ms']:.2f}"
                        f" ({cold['b']['cpu_median_ms']:.0f} / {cold['a']['cpu_median_ms']:.0f} ms of server CPU to the first 200)")
    big = result.get("big")
    if big:
        base = big["baseline"]
        valid = big["valid"]
        ratio = valid["ms"] / base["total_ms"]
        add("25 MB valid / (HMAC + json.loads)", valid["status"] == 200 and ratio <= 1.5,
            f"{ratio:.2f} ({valid['ms']:.0f} / {base['total_ms']:.0f} ms, {valid['status']})", "<= 1.5")
        if base["cpu_ms"]:
            info.append(f"25 MB valid, CPU: server {valid['server_cpu_ms']:.0f} ms vs baseline {base['cpu_ms']:.0f} ms"
                        f" = {valid['server_cpu_ms'] / base['cpu_ms']:.2f}x")
        bad = big["bad_signature"]
        # A server that parsed the body spent at least json.loads' time on it.
        ok = bad["status"] == 401 and bad["server_cpu_ms"] < base["json_loads_ms"]
        add("25 MB bad signature refused before parse", ok,
            f"{bad['status']} in {bad['ms']:.0f} ms, server CPU {bad['server_cpu_ms']:.0f} ms",
            f"401, CPU < json.loads {base['json_loads_ms']:.0f} ms")
    return out, info


# ------------------------------------------------------------------------------------ main


def git_state() -> str:
    """The commit measured, with ``+dirty`` when main.py or airhook/ have uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "main.py", "airhook"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="airhook benchmark (see bench/README.md)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per target (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target (default 2)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="split each target's --duration into this many interleaved windows (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent senders (default 8)")
    parser.add_argument("--targets", default="abcd", help="which of a, b, c, d to load (default abcd)")
    parser.add_argument("--cold-runs", type=int, default=5, help="cold starts per target, median reported (0: skip)")
    parser.add_argument("--big-runs", type=int, default=3, help="25 MB deliveries of each kind, median reported (0: skip)")
    parser.add_argument("--big-bytes", type=int, default=25_000_000, help="size of the large delivery")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, config, certs)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to this long for other processes to leave the CPUs idle")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration / args.rounds < 1:
        parser.error("--duration / --rounds must be at least 1 second")
    if args.loadgen == "auto":
        args.loadgen = "wrk" if loadgen.wrk_path() else "python"
    elif args.loadgen == "wrk" and not loadgen.wrk_path():
        parser.error("wrk is not installed (apt-get install -y wrk)")
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {''.join(sorted(unknown))}")

    from importlib.metadata import version

    import functions_framework as ff_module  # noqa: F401  (fails early outside the venv)

    load_before = wait_quiet(args.wait_quiet)
    began = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="airhook-bench-"))
    standin: StandIn | None = None
    try:
        tls = certs.make(tmp)
        secret = secrets.token_hex(16)
        body = bodies.small_push()
        body_file = tmp / "body.json"
        body_file.write_bytes(body)
        signature = bodies.sign(secret.encode(), body)
        standin = StandIn(tls, tmp / "standin.log")
        env = server_environment()
        env.update(BENCH_SECRET=secret, BENCH_AIRFLOW_URL=standin.url, BENCH_CA=str(tls.ca), BENCH_TOKEN=TOKEN,
                   AIRHOOK_CONFIG=str(write_airhook_config(tmp, standin.url, tls.ca)))
        result: dict[str, Any] = {"meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(),
            "functions_framework": version("functions-framework"), "gunicorn": version("gunicorn"),
            "cpus": os.cpu_count(), "threads": (os.cpu_count() or 1) * 4, "loadgen": args.loadgen,
            "connections": args.connections, "duration": args.duration, "warmup": args.warmup, "rounds": args.rounds,
            "body_bytes": len(body), "standin_url": standin.url, "git": git_state(),
            "load_before": round(load_before, 2)}, "targets": {}}

        big: bytes | None = None
        if args.big_runs > 0 and "b" in args.targets:
            big = bodies.large_push(args.big_bytes)

        keys = "".join(k for k in "abcd" if k in args.targets)
        measured = measure_all(keys, env, tmp, standin, body_file, body, signature, args, big, secret.encode())
        result["targets"] = measured["targets"]
        if "big" in measured:
            result["big"] = measured["big"]
        big = None

        if args.cold_runs > 0:
            keys = "".join(k for k in "ab" if k in args.targets)
            print(f"bench: cold start ({', '.join(keys)}) x{args.cold_runs} ...", file=sys.stderr, flush=True)
            with OtherLoad(standin.cpu) as other:
                result["cold_start"] = cold_starts(keys, env, tmp, body, signature, args.cold_runs)
            for value in result["cold_start"].values():
                value["other_load_cores"] = other.cores

        result["checks"], result["info"] = checks(result)
        result["meta"]["wall_s"] = round(time.perf_counter() - began, 1)
        print(report(result))
        print(f"\n(total {result['meta']['wall_s']} s; logs in {tmp if args.keep else 'a removed temp dir (--keep keeps it)'})")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return 0
    except BaseException:
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log.name} (last lines)\n" + "\n".join(tail), file=sys.stderr)
        raise
    finally:
        if standin is not None:
            standin.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
