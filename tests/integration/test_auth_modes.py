"""Each way airhook authenticates to a real Airflow: basic (Airflow 2), a JWT from /auth/token
(Airflow 3), a static bearer token (Airflow 3 accepts a JWT minted by /auth/token as one, as
Astronomer's deployment tokens are), a pinned API version, and refused credentials."""

from __future__ import annotations

import uuid

import pytest
import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer

SECRET = "auth-modes-secret"
CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: ${API}
  auth: %s
sources:
  github: {type: github, secrets: ["${GITHUB_WEBHOOK_SECRET}"], deadline: 3}
routes:
  - {name: deploy, source: github, events: [push], dag_id: deploy, conf: {sha: body.after}}
"""


def deliver_once(airflow: AirflowServer, auth: str, api: str, **env: str) -> requests.Response:
    body = payload("push")
    environment = {"AIRFLOW_URL": airflow.url, "API": api, "GITHUB_WEBHOOK_SECRET": SECRET, **env}
    with FunctionServer(CONFIG % auth, environment) as function:
        response = requests.post(f"{function.url}/github", data=body, timeout=60, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": sign(SECRET.encode(), body)})
        assert SECRET not in function.log_text()
        for value in env.values():
            assert value not in function.log_text()
    return response


def created(airflow: AirflowServer, response: requests.Response) -> bool:
    assert response.status_code == 200, response.text
    run = response.json()["runs"][0]
    return run["status"] == "queued" and airflow.get_dag_run("deploy", run["dag_run_id"]) is not None


def test_static_bearer_token_on_airflow3(airflow3: AirflowServer) -> None:
    token = airflow3.auth_headers()["Authorization"].removeprefix("Bearer ")
    response = deliver_once(airflow3, "{type: bearer, token: '${TOKEN}'}", "v2", TOKEN=token)
    assert created(airflow3, response)


@pytest.mark.parametrize("api", ["auto", "pinned"])
def test_username_password_auth(airflow: AirflowServer, api: str) -> None:
    kind = "basic" if airflow.api == "v1" else "airflow-jwt"
    response = deliver_once(airflow, f"{{type: {kind}, username: '${{USER}}', password: '${{PASSWORD}}'}}",
                            airflow.api if api == "pinned" else "auto",
                            USER=airflow.username, PASSWORD=airflow.password)
    assert created(airflow, response)


def test_refused_credentials_are_a_502_that_names_the_cause(airflow: AirflowServer) -> None:
    kind = "basic" if airflow.api == "v1" else "airflow-jwt"
    response = deliver_once(airflow, f"{{type: {kind}, username: admin, password: '${{PASSWORD}}'}}", "auto",
                            PASSWORD="not-the-password")
    assert response.status_code == 502
    assert response.json()["error"] == "airflow_auth_failed"
