"""Cloud Composer's auth path with a real google-auth credentials object.

Google's token endpoint and Composer's Airflow cannot run here, so both are loopback stand-ins;
everything else is real: a service-account key generated here, found by google.auth.default()
through GOOGLE_APPLICATION_CREDENTIALS, a JWT assertion signed with it, and airhook running under
functions-framework.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tests.google_fakes import SERVICE_ACCOUNT, TokenEndpoint, service_account_key
from tests.stubs import stub_server
from tools.function_server import FunctionServer

SECRET = "google-auth-secret"
ACCESS_TOKEN = "ya29.loopback-access-token"
DELIVERIES = 24

CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: v2
  auth: {type: google}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
routes:
  - {name: deploy, source: github, events: [push], dag_id: deploy, conf: {sha: body.after}}
"""


def test_many_deliveries_one_token_fetch(tmp_path: Path) -> None:
    token_endpoint = TokenEndpoint(ACCESS_TOKEN)
    with stub_server(token_endpoint) as google, stub_server(lambda r: (200, {"state": "queued"})) as composer:
        key_file = tmp_path / "sa.json"
        token_endpoint.public_pem = service_account_key(key_file, f"{google.url}/token")
        env = {"AIRFLOW_URL": composer.url, "GITHUB_WEBHOOK_SECRET": SECRET,
               "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
        body = payload("push")

        def send(_: int) -> int:
            return requests.post(f"{function.url}/github", data=body, timeout=30, headers={
                "Content-Type": "application/json", "X-GitHub-Event": "push",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(SECRET.encode(), body)}).status_code

        with FunctionServer(CONFIG, env) as function:
            with ThreadPoolExecutor(8) as pool:  # concurrent first requests: still one fetch
                statuses = list(pool.map(send, range(DELIVERIES)))
        assert statuses == [200] * DELIVERIES
        assert google.paths() == ["/token"]
        assert token_endpoint.assertions[0]["iss"] == SERVICE_ACCOUNT
        assert "cloud-platform" in token_endpoint.assertions[0]["scope"]
        triggers = [r for r in composer.requests if r.path == "/api/v2/dags/deploy/dagRuns"]
        assert len(triggers) == DELIVERIES
        assert {r.headers["authorization"] for r in triggers} == {f"Bearer {ACCESS_TOKEN}"}
        assert ACCESS_TOKEN not in function.log_text()
