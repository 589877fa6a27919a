"""Amazon MWAA: botocore really signs InvokeRestApi / GetEnvironment calls to a loopback stand-in of
MWAA's API (tests/mwaa_endpoint.py), which checks each SigV4 signature independently, the path and
the JSON body, and answers in MWAA's response and error shapes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airhook.airflow.client import AirflowClient, build_transport, request_body
from airhook.airflow.mwaa import MAX_PATH, MwaaTransport
from airhook.config import AirflowConfig, AuthConfig
from airhook.errors import (
    AirflowAuthError,
    AirflowRejected,
    AirflowServerError,
    AirflowUnavailable,
    ConfigError,
    DagNotFound,
    RunRefused,
    TargetNotFound,
)
from airhook.routing import Trigger
from tests.mwaa_endpoint import ACCESS_KEY, REGION, MwaaEndpoint, aws_environ, dag_runs
from tests.stubs import stub_server
from tools.ports import free_port

TRIGGER = Trigger(route="r", dag_id="deploy", dag_run_id="airhook__github__r__d-1", conf={"sha": "abc"})


@pytest.fixture(autouse=True)
def aws_credentials() -> Iterator[None]:
    """Static test credentials only (tests/conftest.py restores os.environ afterwards)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(aws_environ())
    yield


def mwaa_config(endpoint: str, api: str = "v2", timeout: float = 2, name: str = "airhook-test") -> AirflowConfig:
    return AirflowConfig(api=api, timeout=timeout, auth=AuthConfig(
        "mwaa", environment=name, region=REGION, endpoint_url=endpoint))


def triggers(server: Any) -> list[Any]:
    """The InvokeRestApi calls that trigger (not GetEnvironment, not the paused check)."""
    return [r for r in server.requests if r.path.startswith("/restapi/") and r.json()["Method"] == "POST"]


def client_for(endpoint: str, api: str = "v2", **kwargs: Any) -> AirflowClient:
    return AirflowClient(mwaa_config(endpoint, api, **kwargs))


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_trigger_is_a_signed_invoke_rest_api_call(api: str) -> None:
    mwaa = MwaaEndpoint(dag_runs())
    with stub_server(mwaa) as server:
        outcome = client_for(server.url, api).trigger(TRIGGER)
    assert outcome.status == "queued" and outcome.airflow_status == 200
    assert mwaa.signature_failures == []
    [request] = triggers(server)
    assert (request.method, request.path) == ("POST", "/restapi/airhook-test")
    assert request.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{request.headers['x-amz-date'][:8]}/{REGION}/airflow/aws4_request, ")
    # The model's body: Name is in the URI; Path has no /api/vN prefix; Body is the DAG run.
    assert request.json() == {"Path": "/dags/deploy/dagRuns", "Method": "POST",
                              "Body": request_body(TRIGGER, api)}
    assert ("logical_date" in request.json()["Body"]) is (api == "v2")
    if api == "v2":
        assert request.json()["Body"]["logical_date"] is None  # null, not dropped


def test_redelivery_is_a_duplicate() -> None:
    with stub_server(MwaaEndpoint(dag_runs())) as server:
        client = client_for(server.url)
        assert client.trigger(TRIGGER).status == "queued"
        second = client.trigger(TRIGGER)
    assert (second.status, second.airflow_status) == ("duplicate", 409)  # RestApiClientException 409


@pytest.mark.parametrize("status, body, error", [
    (404, {"detail": "DAG with dag_id: 'deploy' not found"}, DagNotFound),
    (400, {"detail": "bad"}, AirflowRejected),
    (403, {"detail": "Forbidden"}, AirflowAuthError),
    (500, {"detail": "database is locked"}, AirflowServerError),  # RestApiServerException
])
def test_airflow_errors_carry_airflows_status(status: int, body: Any, error: type) -> None:
    with stub_server(MwaaEndpoint(lambda *_: (status, body))) as server:
        with pytest.raises(error) as caught:
            client_for(server.url).trigger(TRIGGER)
    assert caught.value.airflow_status == status
    if status == 403:
        assert "airflow:InvokeRestApi" in caught.value.detail  # classify()'s hint for mwaa


@pytest.mark.parametrize("status, code, error, words", [
    (403, "AccessDeniedException", AirflowAuthError, "airflow:InvokeRestApi on arn:aws:airflow:eu-west-1:ACCOUNT:role/airhook-test/"),
    (403, "UnrecognizedClientException", AirflowAuthError, "AWS denied access"),
    (401, "ExpiredTokenException", AirflowAuthError, "refused the credentials"),
    (404, "ResourceNotFoundException", TargetNotFound, "no such MWAA environment"),
    (400, "ValidationException", AirflowRejected, "ValidationException"),
    (500, "InternalServerException", AirflowServerError, "InternalServerException"),
    (429, "ThrottlingException", AirflowServerError, "ThrottlingException"),
])
def test_aws_errors_are_typed_and_not_retried_by_botocore(status: int, code: str, error: type,
                                                          words: str) -> None:
    with stub_server(MwaaEndpoint(dag_runs(), aws_errors=[(status, code)])) as server:
        with pytest.raises(error) as caught:
            client_for(server.url).trigger(TRIGGER)
        assert len(server.requests) == 1  # botocore's own retries are off
    assert words in caught.value.detail


def test_server_errors_are_retried_within_the_deadline() -> None:
    mwaa = MwaaEndpoint(dag_runs(), aws_errors=[(500, "InternalServerException")])
    with stub_server(mwaa) as server:
        outcome = client_for(server.url).trigger(TRIGGER, deadline=time.monotonic() + 5)
        assert outcome.status == "queued" and len(triggers(server)) == 2


@pytest.mark.parametrize("version, api", [("2.10.3", "v1"), ("2.4.3", "v1"), ("3.0.6", "v2")])
def test_api_auto_asks_get_environment_once(version: str, api: str) -> None:
    mwaa = MwaaEndpoint(dag_runs(), airflow_version=version)
    with stub_server(mwaa) as server:
        client = client_for(server.url, api="auto")
        for n in range(3):
            client.trigger(Trigger(route="r", dag_id="deploy", dag_run_id=f"run-{n}", conf={}))
    assert mwaa.signature_failures == []
    assert server.paths("GET") == ["/environments/airhook-test"]
    assert client.api() == api
    posts = [call for call in mwaa.calls if call["Method"] == "POST"]
    assert len(posts) == 3 and all(("logical_date" in call["Body"]) is (api == "v2") for call in posts)
    # the environment's version fits the body: 2.4.3 refuses a note (FIELD_SINCE)
    assert client.version() == tuple(int(n) for n in version.split("."))


def test_path_longer_than_64_characters_fails_before_sending() -> None:
    dag_id = "d" * (MAX_PATH - len("/dags//dagRuns") + 1)
    with stub_server(MwaaEndpoint(dag_runs())) as server:
        with pytest.raises(RunRefused, match="at most 64") as caught:
            client_for(server.url).trigger(Trigger(route="r", dag_id=dag_id, dag_run_id="x", conf={}))
        assert server.requests == []
    assert caught.value.public == "the request cannot be sent through Amazon MWAA"
    longest = "d" * (MAX_PATH - len("/dags//dagRuns"))
    with stub_server(MwaaEndpoint(dag_runs())) as server:
        assert client_for(server.url).trigger(Trigger(route="r", dag_id=longest, dag_run_id="x", conf={})).status == "queued"


def test_query_string_becomes_query_parameters() -> None:
    mwaa = MwaaEndpoint(lambda method, path, body, query: (200, {"assets": [], "query": query}))
    with stub_server(mwaa) as server:
        transport = MwaaTransport(mwaa_config(server.url))
        reply = transport.request("GET", "/assets?name_pattern=orders&limit=100", None, 2, "v2")
    assert reply.status == 200 and reply.json()["query"] == {"name_pattern": "orders", "limit": "100"}
    assert mwaa.calls == [{"Name": "airhook-test", "Path": "/assets", "Method": "GET",
                           "QueryParameters": {"name_pattern": "orders", "limit": "100"}}]


def test_connection_refused_is_unavailable() -> None:
    port = free_port()  # a port nobody listens on
    with pytest.raises(AirflowUnavailable, match="EndpointConnectionError"):
        client_for(f"http://127.0.0.1:{port}").trigger(TRIGGER)


def test_read_timeout_from_airflow_timeout_is_unavailable() -> None:
    def slow(*_: Any) -> tuple[int, Any]:
        time.sleep(1.5)
        return 200, {}

    with stub_server(MwaaEndpoint(slow)) as server:
        started = time.monotonic()
        with pytest.raises(AirflowUnavailable, match="ReadTimeoutError"):
            client_for(server.url, timeout=0.4).trigger(TRIGGER)
        assert time.monotonic() - started < 1.4  # one attempt, cut at airflow.timeout


def test_wrong_secret_is_refused_by_the_signature_check() -> None:
    os.environ["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    mwaa = MwaaEndpoint(dag_runs())
    with stub_server(mwaa) as server:
        with pytest.raises(AirflowAuthError, match="InvalidSignatureException"):
            client_for(server.url).trigger(TRIGGER)
    assert mwaa.signature_failures == ["signature mismatch"]


def test_no_credentials_is_an_auth_error() -> None:
    del os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    with stub_server(MwaaEndpoint(dag_runs())) as server:
        with pytest.raises(AirflowAuthError, match="no usable AWS credentials"):
            client_for(server.url).trigger(TRIGGER)
        assert server.requests == []


def test_concurrent_triggers_share_one_client() -> None:
    mwaa = MwaaEndpoint(dag_runs())
    with stub_server(mwaa) as server:
        client = client_for(server.url)
        triggers = [Trigger(route="r", dag_id="deploy", dag_run_id=f"run-{n}", conf={}) for n in range(16)]
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(client.trigger, triggers))
    assert [o.status for o in outcomes] == ["queued"] * 16
    assert mwaa.signature_failures == [] and len([c for c in mwaa.calls if c["Method"] == "POST"]) == 16
    assert isinstance(client.transport, MwaaTransport)
    assert client.transport.client.meta.config.retries["total_max_attempts"] == 1


def test_missing_boto3_is_a_startup_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    with pytest.raises(ConfigError, match=r"pip install -r requirements-mwaa\.txt"):
        build_transport(mwaa_config("http://127.0.0.1:9"))


def test_other_targets_never_import_boto3() -> None:
    code = ("import sys, airhook.airflow.client as c, airhook.config as k;"
            "c.AirflowClient(k.AirflowConfig(url='http://127.0.0.1:9'));"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')"
            " or m in ('airhook.airflow.mwaa', 'airhook.airflow.composer')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
