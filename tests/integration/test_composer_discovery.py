"""Cloud Composer URL discovery with a real google-auth credentials object, under functions-framework.

Google's token endpoint, the Composer API and Composer's Airflow cannot be reached here, so all three
are loopback stand-ins; the rest is real: a service-account key generated here and found by
google.auth.default() through GOOGLE_APPLICATION_CREDENTIALS, a JWT assertion signed with it, and
airhook looking up ``config.airflowUri`` once and then triggering there with the same token.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tests.google_fakes import SERVICE_ACCOUNT, TokenEndpoint, service_account_key
from tests.stubs import Recorded, stub_server
from tools.function_server import FunctionServer

SECRET = "composer-discovery-secret"
ACCESS_TOKEN = "ya29.loopback-composer-token"
ENVIRONMENT = "projects/airhook-test/locations/europe-west1/environments/prod"
DELIVERIES = 16

CONFIG = """
airflow:
  composer_environment: ${COMPOSER_ENVIRONMENT}
  composer_endpoint: ${COMPOSER_ENDPOINT}
  api: auto
  auth: {type: google}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
routes:
  - {name: deploy, source: github, events: [push], dag_id: deploy, conf: {sha: body.after}}
"""


def test_many_deliveries_one_discovery_one_token(tmp_path: Path) -> None:
    token_endpoint = TokenEndpoint(ACCESS_TOKEN)

    def airflow(request: Recorded) -> tuple[int, Any]:  # Composer 3 with Airflow 3
        if request.path == "/api/v2/version":
            return 200, {"version": "3.1.0"}
        if request.path == "/api/v2/dags/deploy":  # the paused check
            return 200, {"dag_id": "deploy", "is_paused": False}
        return 200, {"dag_run_id": request.json()["dag_run_id"], "state": "queued"}

    with stub_server(token_endpoint) as google, stub_server(airflow) as web_server:
        def composer_api(request: Recorded) -> tuple[int, Any]:
            time.sleep(0.2)
            if request.path != f"/v1/{ENVIRONMENT}":
                return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
            return 200, {"name": ENVIRONMENT, "state": "RUNNING",
                         "config": {"airflowUri": f"{web_server.url}/", "dagGcsPrefix": "gs://b/dags"}}

        with stub_server(composer_api) as composer:
            key_file = tmp_path / "sa.json"
            token_endpoint.public_pem = service_account_key(key_file, f"{google.url}/token")
            env = {"COMPOSER_ENVIRONMENT": ENVIRONMENT, "COMPOSER_ENDPOINT": composer.url,
                   "GITHUB_WEBHOOK_SECRET": SECRET, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
            body = payload("push", "with-new-branch.payload.json")

            def send(_: int) -> int:
                return requests.post(f"{function.url}/github", data=body, timeout=30, headers={
                    "Content-Type": "application/json", "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": sign(SECRET.encode(), body)}).status_code

            with FunctionServer(CONFIG, env) as function:
                with ThreadPoolExecutor(8) as pool:  # concurrent first requests
                    statuses = list(pool.map(send, range(DELIVERIES)))
                log = function.log_text()

    assert statuses == [200] * DELIVERIES
    assert google.paths() == ["/token"]
    assert [a["iss"] for a in token_endpoint.assertions] == [SERVICE_ACCOUNT]
    assert composer.paths() == [f"/v1/{ENVIRONMENT}"]
    assert composer.requests[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    triggers = [r for r in web_server.requests if r.path == "/api/v2/dags/deploy/dagRuns"]
    # one probe and one paused check per instance, both with the function's credentials
    assert web_server.paths("GET") == ["/api/v2/version", "/api/v2/dags/deploy"]
    assert {r.headers.get("authorization") for r in web_server.requests} == {f"Bearer {ACCESS_TOKEN}"}
    assert len(triggers) == DELIVERIES
    assert {r.headers["authorization"] for r in triggers} == {f"Bearer {ACCESS_TOKEN}"}
    assert all(r.json()["logical_date"] is None for r in triggers)
    assert ACCESS_TOKEN not in log
