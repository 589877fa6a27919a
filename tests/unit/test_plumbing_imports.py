"""The plumbing's import graph (issue 13): no cycles among the Airflow, HTTP and queue modules, and
what a cold start does not load until it is needed (urllib3 before the first request)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "airhook"
#: the modules whose imports must form no cycle, lazy (function-level) imports included
PLUMBING = ["airflow/auth.py", "airflow/client.py", "airflow/composer.py", "airflow/mwaa.py",
            "airflow/replies.py", "airflow/transport.py", "authorized.py", "backoff.py",
            "httpconn.py", "pubsub.py"]


def module_name(path: str) -> str:
    return "airhook." + path.removesuffix(".py").replace("/", ".")


def imports(path: str) -> set[str]:
    """The airhook modules ``path`` imports anywhere in its body (relative imports resolved)."""
    package = module_name(path).rsplit(".", 1)[0].split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_plumbing_has_no_import_cycle() -> None:
    names = {module_name(p): p for p in PLUMBING}
    graph = {name: sorted(imports(path) & names.keys() - {name}) for name, path in names.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(trail + [name])
        state[name] = "open"
        for other in graph[name]:
            visit(other, trail + [name])
        state[name] = "done"

    for name in graph:
        visit(name, [])


# (statement run in a fresh interpreter, modules it must not have loaded)
COLD = [
    ("import airhook.airflow.composer", ["airhook.airflow.client"]),
    ("import airhook.airflow.transport", ["airhook.airflow.client", "airhook.airflow.composer"]),
    ("import airhook.airflow.mwaa", ["airhook.airflow.client", "boto3"]),
    # urllib3 (~60 ms of CPU) and urllib.request wait for the first request
    ("import airhook.httpconn as h; h.Http()", ["urllib3", "urllib.request"]),
    ("import airhook.airflow.client as c, airhook.config as k;"
     "c.AirflowClient(k.AirflowConfig(url='http://127.0.0.1:9'))", ["urllib3", "google.auth"]),
    ("import airhook.pubsub as p; p.PubSub(environ={})", ["urllib3", "google.auth"]),
]


@pytest.mark.parametrize("statement, absent", COLD)
def test_what_is_not_loaded_yet(statement: str, absent: list[str]) -> None:
    code = f"import sys; {statement}; print(sorted(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_first_request_loads_urllib3() -> None:
    code = ("import sys, airhook.httpconn as h\n"
            "try:\n    h.Http().request('GET', 'http://127.0.0.1:9/', timeout=2)\n"
            "except h.Unreachable as exc:\n    print(exc)\n"
            "print('urllib3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["GET http://127.0.0.1:9/: ConnectionRefusedError: [Errno 111] "
                                       "Connection refused", "True"]
