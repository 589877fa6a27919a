"""``make run``: airhook on a real local Airflow 3, both on 127.0.0.1.

Installs Airflow 3.3 into ~/.cache/airhook on first use, starts it on PostgreSQL with the example
DAGs (examples/dags), starts airhook under the production server with the shipped airhook.yaml,
prints a one-line command that sends a signed GitHub push, and follows airhook's log until Ctrl-C.

``make run-plugin`` (``--plugin``): no function; airhook pip-installed into that Airflow's own
environment as a plugin (docs/airflow-plugin.md), serving ``<Airflow>/airhook/github``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from tools.function_server import ROOT, FunctionServer
from tools.local_airflow import AIRFLOW3_VERSION, DEMO_DAG_IDS, AirflowServer
from tools.plugin_airflow import PluginAirflow, install_plugin

SECRET = "local-dev-secret"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRHOOK_PORT", "8080")),
                        help="airhook's port (default 8080, or $AIRHOOK_PORT)")
    parser.add_argument("--airflow-version", default=AIRFLOW3_VERSION)
    parser.add_argument("--config", type=Path, default=ROOT / "airhook.yaml")
    parser.add_argument("--plugin", action="store_true",
                        help="run airhook as a plugin inside Airflow instead of as a function")
    args = parser.parse_args(argv)
    if args.plugin:
        return run_plugin(args.airflow_version, args.config)

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGTERM, stop)

    print(f"Starting Airflow {args.airflow_version} (first run installs it into ~/.cache/airhook; "
          "about a minute)...", flush=True)
    airflow = AirflowServer(args.airflow_version, dags_folder=ROOT / "examples" / "dags")
    function: FunctionServer | None = None
    try:
        airflow.start()
        airflow.wait_ready(DEMO_DAG_IDS)
        env = {"AIRFLOW_URL": airflow.url, "AIRFLOW_AUTH": "airflow-jwt" if airflow.api == "v2" else "basic",
               "AIRFLOW_USER": airflow.username, "AIRFLOW_PASSWORD": airflow.password,
               "GITHUB_WEBHOOK_SECRET": SECRET}
        function = FunctionServer(args.config, env, port=args.port)
        try:
            function.start()
        except RuntimeError as error:
            if "in use" not in str(error):
                raise
            function = FunctionServer(args.config, env).start()
            print(f"port {args.port} is busy; airhook uses {function.port}")
        python = Path(sys.executable)
        print(f"""
airhook   {function.url}/github   (config {args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config}, secret '{SECRET}')
Airflow   {airflow.url}   (user {airflow.username} / {airflow.password})

Send a signed GitHub push (it becomes a run of the 'deploy' DAG):

  GITHUB_WEBHOOK_SECRET={SECRET} {os.path.relpath(python.parent / "airhook", Path.cwd())} send github --url {function.url}

Then open {airflow.url} and look at the DAG 'deploy': the run carries the push's sha, repo and pusher,
or ask from here whether each delivery became a run and how it ended:

  AIRFLOW_URL={airflow.url} AIRFLOW_USER={airflow.username} AIRFLOW_PASSWORD={airflow.password} {os.path.relpath(python.parent / "airhook", Path.cwd())} runs --config {args.config}

airhook's log follows (one JSON line per delivery). Ctrl-C stops everything.
""", flush=True)
        offset = 0
        while not stopping:
            text = function.log_text()
            for line in text[offset:].splitlines():
                print(_pretty(line), flush=True)
            offset = len(text)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping...", flush=True)
        if function is not None:
            function.stop()
        airflow.stop()
    return 0


def run_plugin(version: str, config: Path) -> int:
    """Airflow with airhook installed into it; airhook's log lines from the web tier's log."""
    print(f"Installing airhook into Airflow {version}'s environment (~/.cache/airhook/plugin; the "
          "first run builds it, about a minute)...", flush=True)
    install_plugin(version)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)  # stop Airflow on SIGTERM too, not only on Ctrl-C
    airflow = PluginAirflow(version, config.resolve(), extra_env={"GITHUB_WEBHOOK_SECRET": SECRET},
                            dags_folder=ROOT / "examples" / "dags")
    try:
        airflow.start()
        airflow.wait_ready(DEMO_DAG_IDS)
        python = Path(sys.executable)
        page = f"{airflow.url}/airhook/ui/" if airflow.major >= 3 else f"{airflow.url}/airhook-ui/"
        print(f"""
airhook   {airflow.url}/airhook/github   (a plugin of Airflow {version}; config {config}, secret '{SECRET}')
Airflow   {airflow.url}   (user {airflow.username} / {airflow.password})
Page      {page}   (after logging in to Airflow)

Send a signed GitHub push (it becomes a run of the 'deploy' DAG):

  GITHUB_WEBHOOK_SECRET={SECRET} {os.path.relpath(python.parent / "airhook", Path.cwd())} send github --url {airflow.url}/airhook/github

airhook's log follows (the {airflow.api_process}'s JSON lines). Ctrl-C stops everything.
""", flush=True)
        log_path = airflow.log_paths[airflow.api_process]
        offset = 0
        while True:
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            for line in text[offset:].splitlines():
                if line.startswith('{"severity"'):
                    print(_pretty(line), flush=True)
            offset = len(text)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping...", flush=True)
        airflow.stop()
    return 0


def _pretty(line: str) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return line
    return f"[{record.get('severity', '-')}] {record.get('message', '')}"


if __name__ == "__main__":
    sys.exit(main())
