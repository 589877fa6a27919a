"""``airhook check``: the routes file validated as the function validates it at start-up, but
every problem reported (not just the first) as ``file:line: message``, for the user's own CI;
``--airflow`` also asks the configured Airflow whether each DAG exists and is unpaused, and each
asset exists."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from .. import config
from ..errors import AirflowError
from . import configfile
from .options import common, config_path
from .output import FAILED, OK, CliError, Output

NAME = "check"
HELP = "validate the routes file (and, with --airflow, its DAGs and assets)"
DESCRIPTION = """\
Validate the routes file: its schema, every JMESPath expression, every ${VARIABLE} it uses (set
in this environment, or reported: all of them), DAG ids, duplicate route names. Problems are
printed as file:line: message and the exit status is 1: made for CI. With --airflow, also ask
the configured Airflow whether each route's DAG exists and is unpaused and each asset exists.

examples:
  airhook check                              # $AIRHOOK_CONFIG, else ./airhook.yaml
  airhook check deploy/airhook.yaml
  AIRFLOW_URL=... AIRFLOW_PASSWORD=... airhook check --airflow
  airhook check --json | jq '.problems[].message'
"""


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    kind: str = "config"

    def render(self, file: str) -> str:
        return f"{file}:{self.line}: {self.message}"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="CONFIG", nargs="?", help="the routes file (default: "
                        "$AIRHOOK_CONFIG, else ./airhook.yaml)")
    parser.add_argument("--airflow", action="store_true",
                        help="also ask Airflow whether each DAG exists and is unpaused, each asset exists")
    common(parser, config=False)


def validate(file: configfile.ConfigFile, environ: Mapping[str, str]) -> tuple[list[Problem], configfile.Resolved]:
    """Every problem in ``file``, in file order: each variable not set, and each of config's
    problems unless it only follows from a variable already reported (its stand-in)."""
    resolved = configfile.resolve(file, environ)
    problems = [Problem(missing.line, f"environment variable {missing.name} is not set "
                        f"({config.dotted(missing.path)})", "environment")
                for missing in resolved.missing]
    problems.extend(Problem(error.line or 1, error.detail)
                    for error in config.problems(resolved.document, str(file.path), line_of=file.line_of,
                                                 ignore=resolved.touches_missing))
    problems.sort(key=lambda p: p.line)
    return problems, resolved


def ask_airflow(file: configfile.ConfigFile, loaded: config.Config) -> list[Problem]:
    """Each route's DAG (exists, unpaused) or asset (exists), asked once per DAG or asset."""
    from ..airflow.client import AirflowClient

    client = AirflowClient(loaded.airflow)
    timeout = loaded.airflow.timeout
    problems: list[Problem] = []
    try:
        api = client.api(timeout)
    except AirflowError as exc:
        return [Problem(file.line_of(("airflow", "url")), f"airflow: cannot ask Airflow: {exc.detail}", "airflow")]
    asked: set[str] = set()
    for index, route in enumerate(loaded.routes):
        key = f"dag:{route.dag_id}" if route.asset is None else f"asset:{route.asset}"
        if key in asked:
            continue
        asked.add(key)
        label = f"routes[{index}] ({route.name})"
        try:
            if route.asset is not None:
                client.asset_id(route.asset, api, timeout)  # the trigger path's own lookup
                continue
            assert route.dag_id is not None
            reply = client.get(f"/dags/{quote(route.dag_id, safe='')}", f"DAG {route.dag_id!r}",
                               timeout, missing_ok=True)
            where = ("routes", index, "dag_id")
            if reply.status == 404:
                problems.append(Problem(file.line_of(where), f"{label}.dag_id: DAG {route.dag_id!r} "
                                        "does not exist in Airflow", "airflow"))
            elif (reply.json() or {}).get("is_paused"):
                problems.append(Problem(file.line_of(where), f"{label}.dag_id: DAG {route.dag_id!r} is "
                                        "paused: its runs would be created but never start", "airflow"))
        except AirflowError as exc:
            where = ("routes", index, "asset" if route.asset is not None else "dag_id")
            message = (f"{label}.asset: asset {route.asset!r} does not exist in Airflow"
                       if exc.code == "asset_not_found" else f"{label}: {exc.detail}")
            problems.append(Problem(file.line_of(where), message, "airflow"))
    return problems


def run(args: argparse.Namespace, out: Output) -> int:
    environ = os.environ
    path = args.file or config_path(args, environ)
    try:
        file = configfile.read(path)
    except CliError as exc:
        if "invalid YAML" not in exc.message:
            raise  # unreadable: the command could not run
        # Not YAML: a problem in the file like any other, reported the same way.
        if args.json:
            out.data({"config": str(path), "ok": False, "airflow_checked": False,
                      "problems": [{"line": None, "kind": "yaml", "message": exc.message}]})
        else:
            out.line(exc.message)
            out.line(out.style.red("1 problem"))
        return FAILED
    problems, resolved = validate(file, environ)
    checked_airflow = False
    if args.airflow:
        if problems:
            problems.append(Problem(1, "--airflow skipped: fix the problems above first", "airflow"))
        else:
            loaded = config.parse(resolved.document, {}, str(file.path))
            problems.extend(ask_airflow(file, loaded))
            checked_airflow = True
    if args.json:
        out.data({"config": str(file.path), "ok": not problems, "airflow_checked": checked_airflow,
                  "problems": [{"line": p.line, "kind": p.kind, "message": p.message} for p in problems]})
        return FAILED if problems else OK
    for problem in problems:
        out.line(problem.render(str(file.path)))
    if problems:
        count = len(problems)
        out.line(out.style.red(f"{count} problem{'s' if count != 1 else ''}"))
        return FAILED
    summary = _summary(file, resolved)
    extra = ", Airflow agrees" if checked_airflow else ""
    out.line(out.style.green(f"{file.path}: OK") + f" ({summary}{extra})")
    return OK


def _summary(file: configfile.ConfigFile, resolved: configfile.Resolved) -> str:
    document = resolved.document if isinstance(resolved.document, dict) else {}
    sources = len(document.get("sources") or {})
    routes = len(document.get("routes") or [])
    return f"{sources} source{'s' if sources != 1 else ''}, {routes} route{'s' if routes != 1 else ''}"
