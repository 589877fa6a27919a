"""``python -m tools.local_airflow``: ``install`` builds the Airflow venvs, ``up`` runs one Airflow
in the foreground until Ctrl-C or SIGTERM (``make run``)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import LocalAirflowError
from .install import AIRFLOW3_VERSION, INSTALL_TIMEOUT, ensure_venv
from .server import DEFAULT_DAGS_FOLDER, DEMO_DAG_IDS, START_TIMEOUT, AirflowServer

log = logging.getLogger("airhook.local_airflow")


def _cmd_install(args: argparse.Namespace) -> int:
    for version in args.versions:
        began = time.monotonic()
        path = ensure_venv(version, timeout=args.timeout)
        print(f"apache-airflow=={version}: {path} ({time.monotonic() - began:.1f}s)", flush=True)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_requested.set()

    # Handlers before starting, so a Ctrl-C during startup still cleans up.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = AirflowServer(args.version, dags_folder=args.dags, db=args.db, port=args.port,
                           keep_home=args.keep_home)
    try:
        began = time.monotonic()
        server_thread_error: list[Exception] = []

        def boot() -> None:
            try:
                server.start(timeout=args.timeout)
                dag_ids = args.dag_ids or _dag_ids_hint(server.dags_folder)
                server.wait_ready(dag_ids, timeout=args.timeout)
            except Exception as exc:  # re-raised by the main thread
                server_thread_error.append(exc)

        # Start in a thread so SIGINT/SIGTERM during startup are noticed promptly.
        booter = threading.Thread(target=boot, daemon=True)
        booter.start()
        while booter.is_alive() and not stop_requested.is_set():
            booter.join(0.2)
        if stop_requested.is_set():
            log.info("interrupted during startup; stopping")
            server.stop()  # aborts the start as soon as its current step ends
            booter.join(START_TIMEOUT)
            return 130
        if server_thread_error:
            raise server_thread_error[0]
        if args.json:
            print(json.dumps(server.info(), sort_keys=True), flush=True)
        else:
            print(f"Airflow {server.version} ready in {time.monotonic() - began:.1f}s\n"
                  f"  url:      {server.url}   (REST API {server.api_url})\n"
                  f"  login:    {server.username} / {server.password}\n"
                  f"  database: {server.db} {server.sqlalchemy_url}\n"
                  f"  logs:     {server.log_dir}\n"
                  "Ctrl-C to stop.", flush=True)
        while not stop_requested.wait(1.0):
            server._check_processes()  # a crashed scheduler should end `make run` loudly
        return 0
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _dag_ids_hint(folder: Path) -> list[str]:
    # The demo DAGs when serving examples/dags; otherwise don't guess, just wait for health.
    return list(DEMO_DAG_IDS) if (folder / "airhook_demo.py").exists() else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_airflow", description=sys.modules[__package__].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="build the Airflow venvs in the cache (no server)")
    inst.add_argument("versions", nargs="+", metavar="VERSION")
    inst.add_argument("--timeout", type=float, default=INSTALL_TIMEOUT)
    inst.set_defaults(func=_cmd_install)
    up = sub.add_parser("up", help="run Airflow in the foreground until Ctrl-C / SIGTERM")
    up.add_argument("--version", default=AIRFLOW3_VERSION)
    up.add_argument("--dags", type=Path, default=DEFAULT_DAGS_FOLDER)
    up.add_argument("--db", choices=("postgres", "sqlite"), default=None,
                    help="default: postgres for 3.x, sqlite for 2.x")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--dag-id", dest="dag_ids", action="append", default=None,
                    help="DAG to wait for and unpause (repeatable; default: the demo DAGs)")
    up.add_argument("--json", action="store_true", help="print one JSON line when ready")
    up.add_argument("--keep-home", action="store_true", default=None,
                    help="keep AIRFLOW_HOME (logs, DB) after stopping")
    up.add_argument("--timeout", type=float, default=START_TIMEOUT)
    up.set_defaults(func=_cmd_up)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s local_airflow: %(message)s", datefmt="%H:%M:%S")
    try:
        return int(args.func(args))
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
