"""Cloud Composer's auth path with a real google-auth credentials object.

Google's token endpoint and Composer's Airflow cannot run here, so both are loopback stand-ins;
everything else is real: a service-account key generated here, found by google.auth.default()
through GOOGLE_APPLICATION_CREDENTIALS, a JWT assertion signed with it, and airhook running under
functions-framework.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from airhook.senders.github import sign
from tests.conftest import payload
from tests.stubs import Recorded, stub_server
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
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    assertions: list[dict[str, Any]] = []

    def token_endpoint(request: Recorded) -> tuple[int, Any]:
        from google.auth import jwt  # verify what google-auth really signed, with the public key
        form = parse_qs(request.body.decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        assertions.append(jwt.decode(form["assertion"][0], certs=public_pem, verify=True,
                                     audience="https://oauth2.googleapis.com/token"))
        time.sleep(0.2)  # a slow endpoint widens the window for concurrent refreshes
        return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}

    with stub_server(token_endpoint) as google, stub_server(lambda r: (200, {"state": "queued"})) as composer:
        token_url = f"{google.url}/token"
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps({
            "type": "service_account", "project_id": "airhook-test", "private_key_id": "k1",
            "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
            "client_email": "airhook@airhook-test.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": token_url}))
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
        assert assertions[0]["iss"] == "airhook@airhook-test.iam.gserviceaccount.com"
        assert "cloud-platform" in assertions[0]["scope"]
        triggers = [r for r in composer.requests if r.path == "/api/v2/dags/deploy/dagRuns"]
        assert len(triggers) == DELIVERIES
        assert {r.headers["authorization"] for r in triggers} == {f"Bearer {ACCESS_TOKEN}"}
        assert ACCESS_TOKEN not in function.log_text()
