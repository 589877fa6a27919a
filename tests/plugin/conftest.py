"""A real Airflow 2.11 and 3.3 with airhook pip-installed into each (tools/plugin_airflow.py).

Each generation starts once per session, in parallel, first with a broken routes file (to show
Airflow keeps serving and the plugin answers 503), then its web tier is restarted with a good one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.local_airflow import AIRFLOW2_VERSION, AIRFLOW3_VERSION, DEMO_DAG_IDS
from tools.plugin_airflow import PluginAirflow, install_plugin

SECRET = "plugin-webhook-secret"
CONFIG = """
# No airflow: section: the plugin triggers in the Airflow it runs in.
sources:
  github:
    type: github
    secrets: ["${GITHUB_WEBHOOK_SECRET}"]
    max_body_bytes: 100000
routes:
  - name: deploy-main
    source: github
    events: [push]
    when: "body.ref == 'refs/heads/master'"
    dag_id: deploy
    conf:
      sha: body.after
      repo: body.repository.full_name
      pusher: body.pusher.name
    note: "join('', ['push ', body.after])"
  - name: paused
    source: github
    events: [issues]
    dag_id: billing_sync     # paused by test_a_paused_dag_is_reported
  - name: orders
    source: github
    events: [release]
    asset: ${ORDERS_ASSET}
    extra: {tag: body.release.tag_name}
"""
BROKEN = "sources: {github: {type: github}}\nroutes: []\n"  # no secrets: refused at load

VERSIONS = {"plugin_airflow2": AIRFLOW2_VERSION, "plugin_airflow3": AIRFLOW3_VERSION}


class Started:
    """A plugin Airflow and what the broken-config phase observed."""

    def __init__(self, server: PluginAirflow, config: Path, broken: dict[str, object]) -> None:
        self.server = server
        self.config = config
        self.broken = broken


def _start(name: str, home: Path) -> Started:
    import requests
    version = VERSIONS[name]
    install_plugin(version)
    config = home / f"{name}.yaml"
    config.write_text(BROKEN)
    asset = "airhook://demo/orders" if version.startswith("2.") else "orders"
    server = PluginAirflow(version, config, extra_env={"GITHUB_WEBHOOK_SECRET": SECRET,
                                                       "ORDERS_ASSET": asset})
    _servers.append(server)
    server.start()
    server.wait_ready(DEMO_DAG_IDS)
    # Phase 1: a broken routes file. Airflow serves its API; the plugin's endpoints answer 503.
    broken = {
        "webhook": requests.post(f"{server.url}/airhook/github", data=b"{}", timeout=30),
        "health": requests.get(f"{server.url}/airhook/_health", timeout=30),
        "api": server.request("GET", "dags/deploy"),
        "ui": requests.get(server.url + "/", timeout=30),
    }
    # Phase 2: the good file, picked up when the web tier restarts.
    config.write_text(CONFIG)
    server.stop_api()
    server.start_api()
    server.wait_ready(DEMO_DAG_IDS + ("orders_refresh",))
    return Started(server, config, broken)


_servers: list[PluginAirflow] = []


@pytest.fixture(scope="session")
def _plugin_airflows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Started]]]:
    home = tmp_path_factory.mktemp("plugin")
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(_start, name, home) for name in VERSIONS}
        try:
            yield futures
        finally:
            stoppers = [threading.Thread(target=s.stop) for s in _servers]
            for t in stoppers:
                t.start()
            for t in stoppers:
                t.join()


@pytest.fixture(scope="session", params=sorted(VERSIONS))
def plugin_airflow(request: pytest.FixtureRequest, _plugin_airflows: dict[str, Future[Started]]) -> Started:
    """Each generation in turn, airhook installed, the good config loaded."""
    return _plugin_airflows[request.param].result()
