"""airhook as an Airflow plugin against airhook as a function, in front of the same Airflow (issue 14,
"Benchmark"; not a timed test).

One local Airflow (3.3 by default) with airhook pip-installed into it (tools/plugin_airflow.py) and,
beside it, the function under its production server (tools/function_server.py) triggering that
Airflow over its REST API with a JWT. Both get the same signed ~7 KB GitHub push from ``--senders``
concurrent keep-alive connections (fresh delivery id each, so every request creates one DAG run),
in ``--rounds`` interleaved windows of ``--duration`` seconds. The DAG is paused first: runs are
created, not executed, so the scheduler's work does not skew the comparison. Reported per target:
deliveries per second, latency percentiles, errors; and the plugin's latency minus the function's
(what the extra hop costs, or saves). Every process it starts, it stops by PID.

    .venv/bin/python bench/plugin.py [--airflow-version 3.3.2] [--duration 10] [--rounds 3] [--json out.json]

Run it on a quiet machine: two CPUs shared with anything else measure the neighbours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE), str(ROOT)]

import loadgen  # noqa: E402

from airhook.senders.github import sign  # noqa: E402
from tools.function_server import FunctionServer  # noqa: E402
from tools.local_airflow import AIRFLOW3_VERSION, DEMO_DAG_IDS  # noqa: E402
from tools.plugin_airflow import PluginAirflow, install_plugin  # noqa: E402

SECRET = "bench-plugin-secret"
CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  auth: {type: ${AIRFLOW_AUTH}, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
routes:
  - name: deploy-main
    source: github
    events: [push]
    dag_id: deploy
    conf: {sha: body.after, repo: body.repository.full_name}
"""
BODY = (ROOT / "tests" / "payloads" / "github" / "push" / "with-new-branch.payload.json").read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--airflow-version", default=AIRFLOW3_VERSION)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="airhook-bench-plugin-"))
    config = work / "airhook.yaml"
    config.write_text(CONFIG)
    install_plugin(args.airflow_version)
    airflow = PluginAirflow(args.airflow_version, config, extra_env={"GITHUB_WEBHOOK_SECRET": SECRET})
    function: FunctionServer | None = None
    try:
        airflow.start()
        airflow.wait_ready(DEMO_DAG_IDS)
        paused = airflow.request("PATCH", "dags/deploy", {"is_paused": True})
        assert paused.status == 200, paused
        env = {"AIRFLOW_URL": airflow.url, "AIRFLOW_AUTH": "airflow-jwt" if airflow.major >= 3 else "basic",
               "AIRFLOW_USER": airflow.username, "AIRFLOW_PASSWORD": airflow.password,
               "GITHUB_WEBHOOK_SECRET": SECRET}
        function = FunctionServer(config, env).start()
        targets = {"function": (function.port, "/github"), "plugin": (airflow.port, "/airhook/github")}
        signature = sign(SECRET.encode(), BODY)
        windows: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for name, (port, path) in targets.items():  # warm-up: tokens, pools, DAG cache
            loadgen.run_python("127.0.0.1", port, path, BODY, signature, f"warm-{name}",
                               connections=2, duration=2.0)
        for round_ in range(args.rounds):
            for name, (port, path) in targets.items():
                windows[name].append(loadgen.run_python(
                    "127.0.0.1", port, path, BODY, signature, f"{name}-r{round_}",
                    connections=args.senders, duration=args.duration))
        result = {"airflow": args.airflow_version, "senders": args.senders, "duration_s": args.duration,
                  "rounds": args.rounds, "targets": {name: summary(w) for name, w in windows.items()}}
        f, p = result["targets"]["function"], result["targets"]["plugin"]
        result["plugin_minus_function_ms"] = {k: round(p["latency_ms"][k] - f["latency_ms"][k], 2)
                                              for k in ("p50", "p90", "p99")}
        print(report(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if function is not None:
            function.stop()
        airflow.stop()
    return 0


def summary(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over the windows, so one disturbed window does not decide."""
    rates = [w["requests"] / (w["duration_us"] / 1e6) for w in windows]
    return {"deliveries_per_s": round(statistics.median(rates), 1),
            "latency_ms": {k: round(statistics.median(w["latency_us"][k] for w in windows) / 1000, 2)
                           for k in ("p50", "p90", "p99")},
            "errors": {k: sum(w["errors"][k] for w in windows) for k in windows[0]["errors"]},
            "requests": sum(w["requests"] for w in windows)}


def report(result: dict[str, Any]) -> str:
    lines = [f"Airflow {result['airflow']}, {result['senders']} senders, {result['rounds']} x "
             f"{result['duration_s']:g} s per target (medians over windows)",
             f"{'target':10} {'deliveries/s':>13} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}  errors"]
    for name, t in result["targets"].items():
        lat = t["latency_ms"]
        errors = sum(t["errors"].values())
        lines.append(f"{name:10} {t['deliveries_per_s']:>13} {lat['p50']:>8} {lat['p90']:>8} {lat['p99']:>8}  {errors}")
    delta = result["plugin_minus_function_ms"]
    lines.append(f"plugin - function: p50 {delta['p50']:+} ms, p90 {delta['p90']:+} ms, p99 {delta['p99']:+} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
