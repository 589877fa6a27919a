"""``airhook runs``: did my delivery become a run, and how did it end? airhook's recent DAG runs
read back from Airflow's REST API (run ids and notes carry the delivery), newest first, with
whether each route's DAG exists and is paused; no logs needed."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from datetime import UTC, datetime

from .. import runs
from ..errors import AirflowError
from . import configfile
from .options import common, config_path
from .output import FAILED, OK, CliError, Output

NAME = "runs"
HELP = "list airhook's recent DAG runs and their states (did my delivery become a run?)"
DESCRIPTION = """\
List the DAG runs airhook's deliveries became, newest first, read from the configured Airflow
over its REST API: source, delivery id, DAG, state, when, run id. The routes file says which DAGs
to ask about; each is also checked for existence and pause. Needs Airflow's URL and credentials
(the config's airflow section), not the sources' secrets. With --delivery, the exit status is 1
when the delivery became no run.

examples:
  airhook runs                                   # the newest 20 across every route's DAG
  airhook runs --source github --limit 5
  airhook runs --delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958
  airhook runs --json | jq '.runs[] | select(.state == "failed")'
"""

_STATE_COLOUR = {"success": "green", "failed": "red", "queued": "yellow", "running": "yellow"}


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", metavar="S", help="only this source's routes and deliveries")
    parser.add_argument("--delivery", metavar="ID", help="only this delivery (the id the sender sent, "
                        "e.g. X-GitHub-Delivery); found by run id however old")
    parser.add_argument("--limit", metavar="N", type=_positive, default=20, help="at most N runs (default 20)")
    common(parser)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected 1 to 1000, got {value}")
    return value


def _when(created: str | None) -> str:
    """``2026-11-30 17:43:42Z``: UTC to the second, whichever form Airflow wrote."""
    if not created:
        return "-"
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def run(args: argparse.Namespace, out: Output) -> int:
    from ..airflow.client import AirflowClient

    loaded, file, resolved = configfile.load(config_path(args), os.environ)
    missing = resolved.missing_under(("airflow",))
    if missing:
        names = ", ".join(sorted({m.name for m in missing}))
        raise CliError(f"{file.path}:{missing[0].line}: environment variable(s) not set: {names} "
                       "(needed to ask Airflow)")
    if args.source is not None and args.source not in loaded.sources:
        raise CliError(f"{file.path}: no source named {args.source!r} (configured: {', '.join(loaded.sources)})")
    if not any(r.dag_id is not None for r in loaded.routes
               if args.source is None or r.source == args.source):
        raise CliError(f"{file.path}: no route {'of ' + repr(args.source) + ' ' if args.source else ''}"
                       "triggers a DAG: nothing to list")
    client = AirflowClient(loaded.airflow)
    try:
        listing = runs.list_runs(client, loaded.routes, source=args.source, delivery=args.delivery,
                                 limit=args.limit)
    except AirflowError as exc:
        raise CliError(f"cannot ask Airflow: {exc.detail}", FAILED) from None
    found = bool(listing.runs) or args.delivery is None
    if args.json:
        out.data({"config": str(file.path), "api": listing.api,
                  "dags": [asdict(d) for d in listing.dags],
                  "runs": [asdict(r) for r in listing.runs], "scanned": listing.scanned})
        return OK if found else FAILED
    _print(out, args, listing)
    return OK if found else FAILED


def _print(out: Output, args: argparse.Namespace, listing: runs.Listing) -> None:
    style = out.style
    for dag in listing.dags:
        if not dag.exists:
            out.line(style.red(f"DAG {dag.dag_id!r} does not exist in Airflow") +
                     f" (route {', '.join(dag.routes)}): its deliveries cannot become runs")
        elif dag.paused:
            out.line(style.yellow(f"DAG {dag.dag_id!r} is paused") +
                     f" (route {', '.join(dag.routes)}): its runs are created but do not start")
    if not listing.runs:
        what = f"delivery {args.delivery!r}" if args.delivery else "airhook's deliveries"
        dags = ", ".join(d.dag_id for d in listing.dags if d.exists) or "none"
        out.line(f"no run for {what} in DAG(s) {dags}" +
                 ("" if args.delivery else f" ({listing.scanned} recent runs read)"))
        return
    rows = [("SOURCE", "DELIVERY", "DAG", "STATE", "CREATED", "RUN ID")]
    rows += [(r.source, r.delivery_id, r.dag_id, r.state or "-", _when(r.created), r.run_id) for r in listing.runs]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        if index == 0:
            cells = [style.bold(c) for c in cells]
        elif row[3] in _STATE_COLOUR:
            cells[3] = style.paint(cells[3], _STATE_COLOUR[row[3]])
        out.line("  ".join(cells + [row[5]]).rstrip())
