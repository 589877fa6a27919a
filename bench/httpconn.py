"""CPU per POST of airhook.httpconn (urllib3 pools) against the http.client pool it replaced
(issue 13 item 3), measured in the same run, and the cold-start import cost of the new module.

Both pools POST the same ~300-byte dagRuns body with the same headers, one at a time on one
kept-alive connection, to the Airflow stand-in (bench/standin.py, HTTPS, its own process) and to a
plain-HTTP copy of it (this script with ``--serve-plain``, its own process), so only the client's
CPU is counted. urllib3's ``PoolManager.request`` (what the issue's ~130 us figure was) runs beside
them for reference. CPU is ``time.process_time()`` of this process (user + system), which does not
count time spent waiting for the CPU when other processes share it; the figure is the median over
``--rounds`` interleaved windows, and each ratio is the median of the per-window ratios.
``--callgrind`` adds valgrind instruction counts per POST (load-independent, slow):
(I(n2) - I(n1)) / (n2 - n1) over two runs of a client subprocess, so start-up and imports cancel.

    .venv/bin/python bench/httpconn.py [--posts 2000] [--rounds 7] [--callgrind] [--json FILE]

The old pool below is a verbatim copy of airhook/httpconn.py's ``Http`` before the change (commit
ed2ceaf), kept here only to measure against.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is sys.path[0]: never let a module there shadow the standard library.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import socketserver  # noqa: E402
import ssl  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

BODY = json.dumps({"dag_run_id": "airhook__github__deploy-main__769f995e-3572-49d7-ad44-3c263e56540f",
                   "conf": {"sha": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "repo": "octo-org/hello-world",
                            "pusher": "octocat", "ref": "refs/heads/main"},
                   "logical_date": None}, separators=(",", ":")).encode()
HEADERS = {"Content-Type": "application/json", "Accept": "application/json",
           "Authorization": "Bearer " + "x" * 180}
PATH = "/api/v2/dags/deploy/dagRuns"


# ------------------------------------------------------------------------------------ the old pool

class OldUnreachable(Exception):
    pass


_OLD_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
              BrokenPipeError, ConnectionAbortedError)


class OldReply:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers


class OldHttp:
    """airhook.httpconn.Http at ed2ceaf: keep-alive over http.client (Reply was a frozen
    dataclass there; a slotted class here costs the same to build)."""

    def __init__(self, verify_tls: bool | str = True, max_idle: int = 16) -> None:
        self._verify = verify_tls
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self.opened = 0

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            if self._verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(self._verify, str):
                context = ssl.create_default_context(cafile=self._verify)
            else:
                context = ssl.create_default_context()
            self._context = context
        return self._context

    def _checkout(self, key: tuple[str, str, int], timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
            self.opened += 1
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context()), False
        return http.client.HTTPConnection(host, port, timeout=timeout), False

    def _checkin(self, key: tuple[str, str, int], connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    def request(self, method: str, url: str, *, timeout: float, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> OldReply:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise OldUnreachable(f"unsupported URL {url.split('?', 1)[0]}")
        key = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            connection, reused = self._checkout(key, timeout)
            try:
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                connection.request(method, target, body=body, headers=dict(headers or {}))
                response = connection.getresponse()
                data = response.read()
            except _OLD_STALE as exc:
                connection.close()
                if reused and attempt == 1:
                    continue
                raise OldUnreachable(f"{method}: connection lost: {type(exc).__name__}") from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise OldUnreachable(f"{method}: {type(exc).__name__}: {exc}") from None
            if response.will_close:
                connection.close()
            else:
                self._checkin(key, connection)
            return OldReply(response.status, data, {k.lower(): v for k, v in response.getheaders()})
        raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------ clients

Post = Callable[[], int]


def make_clients(base: str, ca: str) -> dict[str, tuple[Post, Callable[[], int]]]:
    """name -> (one POST returning the status, connections opened so far)."""
    import urllib3

    from airhook.httpconn import Http

    url = base + PATH
    old, new = OldHttp(ca), Http(ca)
    context = ssl.create_default_context(cafile=ca)
    manager = urllib3.PoolManager(ssl_context=context, maxsize=16)

    def manager_post() -> int:
        return manager.request("POST", url, body=BODY, headers=HEADERS, retries=False, redirect=False,
                               timeout=10.0).status

    def manager_opened() -> int:
        return sum(p.num_connections for p in manager.pools._container.values())  # noqa: SLF001

    return {
        "old (http.client)": (lambda: old.request("POST", url, timeout=10.0, body=BODY, headers=HEADERS).status,
                              lambda: old.opened),
        "new (urllib3 pool)": (lambda: new.request("POST", url, timeout=10.0, body=BODY, headers=HEADERS).status,
                               lambda: new.opened),
        "urllib3 PoolManager.request": (manager_post, manager_opened),
    }


def measure(clients: dict[str, tuple[Post, Callable[[], int]]], posts: int, rounds: int,
            warmup: int) -> dict[str, Any]:
    names = list(clients)
    for post, _ in clients.values():
        for _ in range(warmup):
            assert post() == 200
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate: drift hits all alike
        for name in order:
            post = clients[name][0]
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(posts):
                if post() != 200:
                    raise SystemExit(f"bench: {name} got a non-200 answer")
            cpu[name].append((time.process_time() - c0) / posts * 1e6)
            wall[name].append((time.perf_counter() - w0) / posts * 1e6)
    base = names[0]
    return {name: {"cpu_us_median": statistics.median(cpu[name]), "cpu_us_min": min(cpu[name]),
                   "wall_us_median": statistics.median(wall[name]),
                   "ratio_to_old": statistics.median(c / b for c, b in zip(cpu[name], cpu[base])),
                   "connections_opened": clients[name][1](), "cpu_us_rounds": [round(c, 1) for c in cpu[name]]}
            for name in names}


# ------------------------------------------------------------------------------------ servers

def serve_plain() -> int:
    """The stand-in's answers over plain HTTP (its handler, without TLS), in this process."""
    sys.path.insert(0, str(HERE))
    import standin  # type: ignore[import-not-found]

    class Plain(standin.Handler):  # type: ignore[misc]
        def handle(self) -> None:
            sock = self.request
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rfile = sock.makefile("rb", buffering=65536)
            try:
                while self._one(sock, rfile):
                    pass
            except (OSError, ValueError):
                pass
            finally:
                rfile.close()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Plain)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    print(json.dumps({"port": server.server_address[1], "pid": os.getpid()}), flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


def start(command: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"bench: {command[1]} did not start")
    return proc, int(json.loads(line)["port"])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # our own child, by its PID
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ------------------------------------------------------------------------------------ callgrind

def client_main(name: str, base: str, ca: str, posts: int) -> int:
    """One client's POSTs, for callgrind to count (``--client``)."""
    post = make_clients(base, ca)[name][0]
    for _ in range(posts):
        assert post() == 200
    return 0


def callgrind(base: str, ca: str, names: list[str], small: int, large: int, directory: Path) -> dict[str, float]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("bench: --callgrind needs valgrind")
    per_post: dict[str, float] = {}
    for name in names:
        counts = []
        for posts in (small, large):
            out = directory / f"callgrind.{len(counts)}.out"
            run = subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
                                  sys.executable, __file__, "--client", name, "--base", base, "--ca", ca,
                                  "--posts", str(posts)], capture_output=True, text=True,
                                 env={**os.environ, "PYTHONHASHSEED": "0"})
            match = re.search(r"Collected : (\d+)", run.stderr)
            if run.returncode or not match:
                raise SystemExit(f"bench: callgrind run failed: {run.stderr[-500:]}")
            counts.append(int(match.group(1)))
        per_post[name] = (counts[1] - counts[0]) / (large - small)
    return per_post


# ------------------------------------------------------------------------------------ imports

IMPORT_PROBE = """
import time, functions_framework, flask, cloudevents.http  # what main.py has loaded before airhook
t = time.process_time(); w = time.perf_counter()
import {module}
print(time.process_time() - t, time.perf_counter() - w)
"""


def import_cost(runs: int) -> dict[str, Any]:
    """CPU (and wall) ms to import a module on top of what functions-framework has loaded, in fresh
    interpreters, median of ``runs``. The old module needed only stdlib modules already loaded
    (http.client, ssl, json, threading, dataclasses, urllib.parse): its probe imports those."""
    probes = {"airhook.httpconn (new)": "airhook.httpconn",
              "urllib3 alone": "urllib3",
              "old module's imports": "http.client, ssl, json, threading, dataclasses, urllib.parse"}
    result: dict[str, Any] = {}
    for label, module in probes.items():
        cpu, wall = [], []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(module=module)], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.split()
            cpu.append(float(out[0]) * 1e3)
            wall.append(float(out[1]) * 1e3)
        result[label] = {"cpu_ms_median": statistics.median(cpu), "wall_ms_median": statistics.median(wall)}
    importtime = subprocess.run([sys.executable, "-X", "importtime", "-c",
                                 "import functions_framework, flask, cloudevents.http; import airhook.httpconn"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stderr
    modules = [line.split("|")[-1].strip() for line in importtime.splitlines()[1:]]
    start_at = max(i for i, m in enumerate(modules) if m == "cloudevents.http") + 1
    result["modules imported by airhook.httpconn"] = len(modules[start_at:])
    return result


# ------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="POSTs per client per window")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved windows per client")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--callgrind", action="store_true", help="also count instructions per POST")
    parser.add_argument("--json", type=Path, help="also write every number here")
    parser.add_argument("--serve-plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_plain:
        return serve_plain()
    if args.client:
        return client_main(args.client, args.base, args.ca, args.posts)

    sys.path.insert(0, str(HERE))
    import certs  # type: ignore[import-not-found]

    results: dict[str, Any] = {"cpu_clock": "time.process_time (user+system of this process)",
                               "posts_per_window": args.posts, "rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="airhook-bench-httpconn-") as tmp:
        tls = certs.make(Path(tmp))
        tls_server, tls_port = start([sys.executable, str(HERE / "standin.py"), "--cert", str(tls.cert),
                                      "--key", str(tls.key)])
        plain_server, plain_port = start([sys.executable, __file__, "--serve-plain"])
        try:
            for scheme, port in (("https", tls_port), ("http", plain_port)):
                base = f"{scheme}://127.0.0.1:{port}"
                results[scheme] = measure(make_clients(base, str(tls.ca)), args.posts, args.rounds, args.warmup)
                if args.callgrind:
                    # old and new only: each count is two valgrind runs of about a minute
                    counts = callgrind(base, str(tls.ca), list(results[scheme])[:2], 50, 250, Path(tmp))
                    for name, count in counts.items():
                        results[scheme][name]["instructions_per_post"] = round(count)
        finally:
            stop(tls_server)
            stop(plain_server)
    results["imports"] = import_cost(args.import_runs)
    results["load_average"] = os.getloadavg()

    print(f"CPU per POST on one kept-alive loopback connection, {args.rounds} windows x {args.posts} POSTs, "
          f"time.process_time; load average {results['load_average'][0]:.1f}")
    for scheme in ("https", "http"):
        print(f"\n{scheme}:")
        print(f"  {'client':30} {'CPU us/POST':>12} {'min':>8} {'x old':>7} {'wall us':>9} {'conns':>6}"
              + (f" {'instr/POST':>11} {'x old':>6}" if args.callgrind else ""))
        old_instr = next(iter(results[scheme].values())).get("instructions_per_post")
        for name, row in results[scheme].items():
            line = (f"  {name:30} {row['cpu_us_median']:12.1f} {row['cpu_us_min']:8.1f} {row['ratio_to_old']:7.2f}"
                    f" {row['wall_us_median']:9.1f} {row['connections_opened']:6d}")
            if args.callgrind and "instructions_per_post" in row:
                line += f" {row['instructions_per_post']:11,d} {row['instructions_per_post'] / old_instr:6.2f}"
            print(line)
    print("\nimport on top of functions-framework + flask (fresh interpreters, median):")
    for label, row in results["imports"].items():
        if isinstance(row, dict):
            print(f"  {label:32} CPU {row['cpu_ms_median']:6.1f} ms   wall {row['wall_ms_median']:6.1f} ms")
    print(f"  modules newly imported by airhook.httpconn: {results['imports']['modules imported by airhook.httpconn']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
