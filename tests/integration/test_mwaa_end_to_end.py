"""Amazon MWAA end to end: a signed GitHub delivery through the real functions-framework server
becomes a SigV4-signed ``InvokeRestApi`` call with the DAG run's body.

MWAA cannot be reached here, so its API is a loopback stand-in (tests/mwaa_endpoint.py) that
verifies every signature with the test secret key; everything else is real: boto3 and botocore
resolving static credentials from the environment (the standard chain), signing, the response
and error shapes, ``api: auto`` through GetEnvironment, and airhook under functions-framework.
"""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tests.mwaa_endpoint import SECRET_KEY, MwaaEndpoint, aws_environ, dag_runs
from tests.stubs import stub_server
from tools.function_server import FunctionServer

SECRET = "mwaa-webhook-secret"
PUSH = payload("push", "with-new-branch.payload.json")
DELIVERIES = 8

CONFIG = """
airflow:
  api: auto
  timeout: 5
  auth: {type: mwaa, environment: airhook-test, region: eu-west-1, endpoint_url: "${MWAA_ENDPOINT}"}
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"]}
routes:
  - {name: deploy, source: github, events: [push], dag_id: deploy, conf: {sha: body.after}}
"""


def deliver(url: str, delivery_id: str) -> requests.Response:
    return requests.post(f"{url}/github", data=PUSH, timeout=30, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(SECRET.encode(), PUSH)})


def test_github_delivery_becomes_a_signed_invoke_rest_api_call() -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]  # only the test credentials reach the function (conftest restores)
    mwaa = MwaaEndpoint(dag_runs(), airflow_version="3.0.6")  # Airflow 3: API v2
    with stub_server(mwaa) as endpoint:
        env = {**aws_environ(), "MWAA_ENDPOINT": endpoint.url, "GITHUB_WEBHOOK_SECRET": SECRET}
        with FunctionServer(CONFIG, env) as function:
            ids = [str(uuid.uuid4()) for _ in range(DELIVERIES)]
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda i: deliver(function.url, i), ids))
            again = deliver(function.url, ids[0])  # GitHub's "Redeliver"
            log = function.log_text()

    assert [a.status_code for a in answers] == [200] * DELIVERIES
    assert {a.json()["runs"][0]["status"] for a in answers} == {"queued"}
    assert again.status_code == 200 and again.json()["runs"][0]["status"] == "duplicate"
    assert mwaa.signature_failures == []
    assert endpoint.paths("GET") == ["/environments/airhook-test"]  # api: auto, once per instance
    posts = [r for r in endpoint.requests if r.method == "POST" and r.json()["Method"] == "POST"]
    assert [r.path for r in posts] == ["/restapi/airhook-test"] * (DELIVERIES + 1)
    # and one paused check (GET /dags/deploy through InvokeRestApi), kept for a minute
    assert [c["Path"] for c in mwaa.calls if c["Method"] == "GET"] == ["/dags/deploy"]
    sha = json.loads(PUSH)["after"]
    run_ids = sorted(a.json()["runs"][0]["dag_run_id"] for a in answers)
    runs = [c for c in mwaa.calls if c["Method"] == "POST"]
    first = runs[:DELIVERIES]
    assert sorted(c["Body"]["dag_run_id"] for c in first) == run_ids
    for call in runs:
        assert (call["Path"], call["Method"]) == ("/dags/deploy/dagRuns", "POST")
        body = call["Body"]
        assert body["conf"] == {"sha": sha} and body["note"].startswith("airhook: github push delivery")
        assert "logical_date" in body and body["logical_date"] is None  # v2: null, not dropped
    assert SECRET_KEY not in log and SECRET not in log
