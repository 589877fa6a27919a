"""Durable-mode benchmark (issue 5): what the queue costs a sender, and what it costs a run.

    .venv/bin/python bench/durable.py [--requests 400] [--connections 8] [--json FILE]
    .venv/bin/python bench/durable.py imports [--python PY] [--runs 15]

Default command, everything real and on 127.0.0.1: Airflow 3.3.2 on PostgreSQL
(tools/local_airflow/), the Pub/Sub emulator (tools/pubsub_emulator.py) and three
functions-framework servers: ``receive`` in direct mode, ``receive`` in queue mode, ``deliver``
(THREADS=4, i.e. deliver_concurrency 4 on one instance). It reports:

* time to answer at ``--connections`` concurrent keep-alive senders, p50/p90/p99/max, over
  ``--requests`` signed GitHub pushes after a warm-up: direct mode (200 once Airflow created the
  run) and queue mode (202 once Pub/Sub stored the message). The queue-mode burst is sent while
  the subscription has no consumer, as in production where ``deliver`` runs on other instances;
* how fast that backlog then drains through ``deliver`` into Airflow (runs/s);
* the time from a 202 to the run existing in Airflow, one delivery at a time (``--trickle``):
  Airflow's own ``queued_at`` of the run minus the moment the sender read the 202 (one machine,
  one clock).

The runs go to ``billing_sync``, paused, so Airflow creates them without executing them: the
numbers are its API's, not its executor's. On this 2-core machine everything shares the CPUs
(the load average before and after is printed); compare the two modes within one run.

``imports`` measures the import cost each Pub/Sub client would add to a cold start, on top of what
``main.py`` imports anyway: the REST path (google-auth + its urllib3 transport, imported by
airhook.pubsub on the first publish) and google-cloud-pubsub's gRPC client. google-cloud-pubsub
is not a dependency: unless ``--python`` names an interpreter that has it, a venv with it (and
requirements.txt) is built once under ``$AIRHOOK_CACHE`` (~/.cache/airhook) with uv.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from airhook.senders.github import sign  # noqa: E402
from tests.pubsub_push import PUSH_ACCOUNT, PUSH_AUDIENCE, SIGNING_KEY, PushIdentity, PushProxy  # noqa: E402
from tools.function_server import FunctionServer  # noqa: E402
from tools.local_airflow import AIRFLOW3_VERSION, AirflowServer, cache_dir  # noqa: E402
from tools.pubsub_emulator import PubSubEmulator  # noqa: E402

SECRET = "bench-queue-secret"
DAG = "billing_sync"
BODY = json.dumps({"ref": "refs/heads/main", "after": "0" * 40,
                   "repository": {"full_name": "octo/bench"}}).encode()

CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: v2
  auth: {type: airflow-jwt, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
sources:
  github: {type: github, secrets: ["${SECRET}"]}
routes:
  - {name: sync, source: github, events: [push], dag_id: billing_sync, conf: {sha: body.after}}
delivery:
  mode: ${MODE}
  topic: ${AIRHOOK_TOPIC}
  dead_letter_topic: ${AIRHOOK_DEAD_LETTER_TOPIC}
  max_delivery_attempts: 10
  minimum_backoff: 0.5
  signing_keys: ["${AIRHOOK_SIGNING_KEY}"]
  push: {audience: "${AIRHOOK_PUSH_AUDIENCE}", service_accounts: ["${AIRHOOK_PUSH_SERVICE_ACCOUNT}"],
         certs_url: "${PUSH_CERTS_URL}"}
"""


# ------------------------------------------------------------------------------------ helpers


def percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"n": len(ordered), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99),
            "max": ordered[-1], "mean": statistics.fmean(ordered)}


def send_batch(url: str, delivery_ids: list[str], connections: int) -> list[tuple[str, int, float, float]]:
    """POST a signed push per delivery id over ``connections`` keep-alive connections; returns
    (delivery id, status, latency s, wall-clock time the answer was read)."""
    host, port = url.removeprefix("http://").split(":")
    shares = [delivery_ids[i::connections] for i in range(connections)]
    results: list[tuple[str, int, float, float]] = []
    lock = threading.Lock()
    signature = sign(SECRET.encode(), BODY)

    def worker(share: list[str]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        mine = []
        for delivery_id in share:
            headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
                       "X-GitHub-Delivery": delivery_id, "X-Hub-Signature-256": signature}
            started = time.perf_counter()
            conn.request("POST", "/github", body=BODY, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((delivery_id, response.status, time.perf_counter() - started, time.time()))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares if share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def run_id(delivery_id: str) -> str:
    return f"airhook__github__sync__{delivery_id}"


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------------------------ latency


def wait_for_runs(airflow: AirflowServer, delivery_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    wanted = {run_id(d) for d in delivery_ids}
    deadline = time.monotonic() + timeout
    while True:
        runs = {r["dag_run_id"]: r for r in airflow.list_dag_runs(DAG) if r["dag_run_id"] in wanted}
        if len(runs) == len(wanted) or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def as_ms(stats: dict[str, float]) -> dict[str, float]:
    return {k: (v * 1000 if k != "n" else v) for k, v in stats.items()}


def latency(args: argparse.Namespace) -> dict[str, Any]:
    airflow = AirflowServer(AIRFLOW3_VERSION, db="postgres")
    emulator = PubSubEmulator(project="airhook-bench")
    servers: list[FunctionServer | PushProxy] = []
    identity = PushIdentity()
    try:
        print("bench: starting Airflow 3 (PostgreSQL) and the Pub/Sub emulator ...", file=sys.stderr, flush=True)
        emulator.start()
        airflow.start()
        airflow.wait_ready([DAG])
        airflow.request("PATCH", f"dags/{DAG}", {"is_paused": True})
        topic = emulator.create_topic("bench-deliveries")
        dead = emulator.create_topic("bench-dead-letter")
        env = {"AIRFLOW_URL": airflow.url, "AIRFLOW_USER": airflow.username,
               "AIRFLOW_PASSWORD": airflow.password, "SECRET": SECRET, "AIRHOOK_TOPIC": topic,
               "AIRHOOK_DEAD_LETTER_TOPIC": dead, "PUBSUB_EMULATOR_HOST": emulator.host,
               # deliver checks the push's OIDC token, which the emulator does not send: a proxy
               # adds it as Pub/Sub would (tests/pubsub_push.py)
               "AIRHOOK_SIGNING_KEY": SIGNING_KEY, "AIRHOOK_PUSH_AUDIENCE": PUSH_AUDIENCE,
               "AIRHOOK_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT, "PUSH_CERTS_URL": identity.certs_url}
        direct = FunctionServer(CONFIG, {**env, "MODE": "direct"}).start()
        servers.append(direct)
        queue = FunctionServer(CONFIG, {**env, "MODE": "queue"}).start()
        servers.append(queue)
        deliver = FunctionServer(CONFIG, {**env, "MODE": "queue", "THREADS": str(args.deliver_threads)},
                                 target="deliver").start()
        servers.append(deliver)
        pusher = PushProxy(deliver.url + "/", identity)
        servers.append(pusher)
        # A pull subscription first: the queue-mode burst is measured with nobody consuming, as in
        # production where deliver runs on other instances; then it becomes the push to deliver.
        subscription = emulator.create_pull_subscription("bench-deliver", topic, ack_deadline=60)
        tag = uuid.uuid4().hex[:6]
        results: dict[str, Any] = {"requests": args.requests, "connections": args.connections,
                                   "deliver_threads": args.deliver_threads, "trickle": args.trickle,
                                   "load_before": os.getloadavg()[0]}
        for mode, server, expected in (("direct", direct, 200), ("queue", queue, 202)):
            send_batch(server.url, [f"{tag}-{mode}-warm-{i}" for i in range(args.warmup)], args.connections)
            ids = [f"{tag}-{mode}-{i}" for i in range(args.requests)]
            started = time.time()
            answers = send_batch(server.url, ids, args.connections)
            took = time.time() - started
            results[mode] = {"ms": as_ms(percentiles([a[2] for a in answers])),
                             "wrong_status": sum(a[1] != expected for a in answers),
                             "answers_per_s": len(answers) / took}
        # The backlog (warm-up + burst) drains through deliver at Airflow's pace.
        backlog = [f"{tag}-queue-warm-{i}" for i in range(args.warmup)] + [
            f"{tag}-queue-{i}" for i in range(args.requests)]
        started = time.time()
        emulator.set_push_endpoint(subscription, pusher.url)
        runs = wait_for_runs(airflow, backlog, args.drain_timeout)
        last = max((epoch(r["queued_at"]) for r in runs.values() if r.get("queued_at")), default=started)
        results["drain"] = {"messages": len(backlog), "runs_found": len(runs), "seconds": last - started,
                            "runs_per_s": len(runs) / max(last - started, 1e-9)}
        # One delivery at a time: the pipeline's own latency, 202 -> run exists in Airflow.
        ids = [f"{tag}-trickle-{i}" for i in range(args.trickle)]
        answered: dict[str, float] = {}
        for delivery_id in ids:
            [(_, status, _, at)] = send_batch(queue.url, [delivery_id], 1)
            answered[delivery_id] = at
            time.sleep(args.trickle_gap)
        runs = wait_for_runs(airflow, ids, 60)
        gaps = [epoch(runs[run_id(d)]["queued_at"]) - answered[d] for d in ids
                if run_id(d) in runs and runs[run_id(d)].get("queued_at")]
        results["trickle_202_to_run_ms"] = as_ms(percentiles(gaps))
        results["trickle_runs_found"] = len(runs)
        results["load_after"] = os.getloadavg()[0]
        return results
    finally:
        for server in servers:
            server.stop()
        identity.stop()
        emulator.stop()
        airflow.stop()


def print_latency(results: dict[str, Any]) -> None:
    n, c = results["requests"], results["connections"]
    print(f"\n{n} signed pushes per mode, {c} concurrent keep-alive senders; Airflow {AIRFLOW3_VERSION} "
          f"on PostgreSQL; load average {results['load_before']:.1f} before, {results['load_after']:.1f} after\n")
    print(f"{'':38} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    rows = (("direct: time to 200 (run created)", results["direct"]["ms"]),
            ("queue: time to 202 (message stored)", results["queue"]["ms"]),
            (f"queue: 202 -> run exists ({results['trickle']} x 1)", results["trickle_202_to_run_ms"]))
    for label, ms in rows:
        print(f"{label:38} {ms['p50']:8.1f} {ms['p90']:8.1f} {ms['p99']:8.1f} {ms['max']:8.1f}")
    print("(milliseconds)\n")
    for mode in ("direct", "queue"):
        print(f"{mode}: {results[mode]['answers_per_s']:.0f} answers/s, wrong status: {results[mode]['wrong_status']}")
    drain = results["drain"]
    print(f"backlog of {drain['messages']} messages -> {drain['runs_found']} runs in {drain['seconds']:.1f} s "
          f"({drain['runs_per_s']:.0f} runs/s; deliver: 1 instance x {results['deliver_threads']} threads)")


# ------------------------------------------------------------------------------------ imports

BASELINE = "import functions_framework, flask, urllib3, yaml, jmespath, airhook.http"
CASES = {
    "rest": "import google.auth, google.auth.transport.urllib3, google.auth.compute_engine, google.oauth2.service_account",
    "grpc": "from google.cloud import pubsub_v1",
}
PROBE = ("import time; t0 = time.perf_counter(); {base}; t1 = time.perf_counter(); {stmt}; "
         "t2 = time.perf_counter(); print((t1 - t0) * 1000, (t2 - t1) * 1000)")


def pubsub_python() -> str:
    """An interpreter with requirements.txt and google-cloud-pubsub (built once, cached)."""
    venv = cache_dir() / f"bench-pubsub-py{sys.version_info.major}.{sys.version_info.minor}"
    python = venv / "bin" / "python"
    if python.exists():
        return str(python)
    uv = Path(sys.executable).parent / "uv"
    print(f"bench: building {venv} (google-cloud-pubsub, once) ...", file=sys.stderr, flush=True)
    subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
                    "-r", str(ROOT / "requirements.txt"), "google-cloud-pubsub"], check=True)
    return str(python)


def imports(args: argparse.Namespace) -> dict[str, Any]:
    python = args.python or pubsub_python()
    # .pyc files present, as a deployed function has after its first start: the dev environment's
    # PYTHONDONTWRITEBYTECODE would make every run recompile and measure the compiler instead.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([python, "-c", f"{BASELINE}; {CASES['rest']}; {CASES['grpc']}"], env=env, check=True)
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('google-cloud-pubsub'), "
                              "m.version('grpcio'), m.version('protobuf'), m.version('google-auth'))"],
                             env=env, capture_output=True, text=True, check=True).stdout.split()
    out: dict[str, Any] = {"python": python, "runs": args.runs, "versions": dict(zip(
        ("google-cloud-pubsub", "grpcio", "protobuf", "google-auth"), version))}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    for _ in range(args.runs):  # interleaved, so a busy moment hits both alike
        for name, stmt in CASES.items():
            line = subprocess.run([python, "-c", PROBE.format(base=BASELINE, stmt=stmt)], env=env,
                                  capture_output=True, text=True, check=True).stdout.split()
            samples[name].append((float(line[0]), float(line[1])))
    for name, pairs in samples.items():
        added = [p[1] for p in pairs]
        out[name] = {"baseline_ms_median": statistics.median(p[0] for p in pairs),
                     "added_ms_median": statistics.median(added), "added_ms_min": min(added)}
    out["load_average"] = os.getloadavg()[0]
    return out


def print_imports(result: dict[str, Any]) -> None:
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    print(f"\nimport cost on top of main.py's own imports ({result['runs']} fresh interpreters each, "
          f"interleaved; {versions}; load average {result['load_average']:.1f})\n")
    print(f"{'':62} {'median':>8} {'min':>8}")
    print(f"{'baseline: functions_framework, flask, ..., airhook.http':62} "
          f"{result['rest']['baseline_ms_median']:8.1f}")
    for name, label in (("rest", "REST: google.auth + urllib3 transport + credential classes"),
                        ("grpc", "gRPC: from google.cloud import pubsub_v1")):
        print(f"{label:62} {result[name]['added_ms_median']:8.1f} {result[name]['added_ms_min']:8.1f}")
    print("(milliseconds added)")


# ------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("latency", "imports"), default="latency")
    parser.add_argument("--requests", type=int, default=400, help="measured requests per mode")
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured requests per mode first")
    parser.add_argument("--connections", type=int, default=8, help="concurrent senders")
    parser.add_argument("--deliver-threads", type=int, default=4, help="deliver's THREADS")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--trickle", type=int, default=50, help="deliveries sent one at a time")
    parser.add_argument("--trickle-gap", type=float, default=0.2, help="seconds between them")
    parser.add_argument("--python", default=None, help="imports: an interpreter with google-cloud-pubsub")
    parser.add_argument("--runs", type=int, default=15, help="imports: fresh interpreters per case")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.what == "imports":
        result = imports(args)
        print_imports(result)
    else:
        result = latency(args)
        print_latency(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
