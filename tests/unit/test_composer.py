"""Cloud Composer URL discovery against loopback stand-ins of the Composer API and of Airflow (the
real google-auth path is in tests/integration/test_composer_discovery.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airhook.airflow.auth import StaticAuth
from airhook.airflow.client import AirflowClient, HttpTransport, build_transport
from airhook.airflow.composer import ComposerTransport
from airhook.airflow.transport import make_pool
from airhook.config import AirflowConfig, AuthConfig
from airhook.errors import AirflowAuthError, AirflowRejected, AirflowServerError, AirflowUnavailable, TargetNotFound
from airhook.routing import Trigger
from tests.stubs import Answer, Recorded, StubServer, scripted, stub_server
from tests.unit.test_airflow_client import calls, dags, paths
from tools.ports import free_port

ENVIRONMENT = "projects/acme/locations/europe-west1/environments/prod"
TOKEN = {"Authorization": "Bearer test-token"}


def trigger(n: int = 0) -> Trigger:
    return Trigger(route="r", dag_id="deploy", dag_run_id=f"run-{n}", conf={})


def composer_client(composer: StubServer, api: str = "v2", url: str | None = None) -> AirflowClient:
    config = AirflowConfig(url=url, api=api, timeout=2, auth=AuthConfig("google"),
                           composer_environment=ENVIRONMENT, composer_endpoint=composer.url)
    pool = make_pool()
    return AirflowClient(config, transport=build_transport(config, pool, StaticAuth(TOKEN)))


def environment(airflow_uri: str) -> Answer:
    return 200, {"name": ENVIRONMENT, "state": "RUNNING", "config": {"airflowUri": airflow_uri + "/"}}


def test_discovers_once_then_triggers_at_the_discovered_url() -> None:
    with stub_server(dags(scripted(default=(200, {"state": "queued"})))) as airflow, \
            stub_server(lambda _: environment(airflow.url)) as composer:
        client = composer_client(composer)
        assert [client.trigger(trigger(n)).status for n in range(5)] == ["queued"] * 5
    [lookup] = composer.requests
    assert (lookup.method, lookup.path) == ("GET", f"/v1/{ENVIRONMENT}")
    assert lookup.headers["authorization"] == "Bearer test-token"
    assert paths(airflow) == ["/api/v2/dags/deploy/dagRuns"] * 5
    assert isinstance(client.transport, ComposerTransport) and client.transport.discovery.lookups == 1


def test_api_auto_is_asked_at_the_discovered_url() -> None:
    def airflow3(request: Recorded) -> Answer:
        return (200, {"version": "3.0.1"}) if request.path == "/api/v2/version" else (200, {"state": "queued"})

    with stub_server(dags(airflow3)) as airflow, stub_server(lambda _: environment(airflow.url)) as composer:
        client = composer_client(composer, api="auto")
        client.trigger(trigger())
        assert client.api() == "v2"
    assert paths(airflow) == ["/api/v2/version", "/api/v2/dags/deploy/dagRuns"]
    assert calls(airflow)[1].json()["logical_date"] is None  # Composer 3 with Airflow 3


def test_concurrent_first_requests_make_one_lookup() -> None:
    def slow_environment(airflow_url: str) -> Any:
        def handler(_: Recorded) -> Answer:
            time.sleep(0.2)  # widens the window for concurrent lookups
            return environment(airflow_url)
        return handler

    with stub_server(dags(scripted(default=(200, {})))) as airflow, \
            stub_server(slow_environment(airflow.url)) as composer:
        client = composer_client(composer)
        with ThreadPoolExecutor(8) as pool:
            statuses = [o.status for o in pool.map(client.trigger, [trigger(n) for n in range(16)])]
    assert statuses == ["queued"] * 16
    assert len(composer.requests) == 1 and len(calls(airflow)) == 16


def test_a_given_url_skips_discovery() -> None:
    with stub_server(dags(scripted(default=(200, {})))) as airflow, stub_server(scripted()) as composer:
        client = composer_client(composer, url=airflow.url)
        client.trigger(trigger())
    assert type(client.transport) is HttpTransport and composer.requests == []


@pytest.mark.parametrize("answer, error, words", [
    ((403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                      "message": "Permission 'composer.environments.get' denied"}}),
     AirflowAuthError, "roles/composer.user"),
    ((401, {"error": {"code": 401, "message": "Request had invalid authentication credentials"}}),
     AirflowAuthError, "Google refused the function's token"),
    ((404, {"error": {"code": 404, "message": "Environment prod does not exist."}}),
     TargetNotFound, "no such environment (airflow.composer_environment)"),
    ((500, {"error": {"code": 500, "message": "backend error"}}), AirflowServerError, "answered 500"),
    ((200, {"name": ENVIRONMENT, "state": "CREATING", "config": {}}), AirflowServerError, "state CREATING"),
    ((400, {"error": {"code": 400, "message": "bad name"}}), AirflowRejected, "answered 400"),
])
def test_lookup_errors(answer: Answer, error: type, words: str) -> None:
    with stub_server(scripted(answer, default=answer)) as composer:
        with pytest.raises(error) as caught:
            composer_client(composer).trigger(trigger())
    assert words in caught.value.detail
    if error is TargetNotFound:
        assert caught.value.status == 502 and caught.value.public == "the configured Airflow environment was not found"


def test_unreachable_composer_api_is_unavailable() -> None:
    port = free_port()  # a port nobody listens on
    config = AirflowConfig(api="v2", timeout=1, auth=AuthConfig("google"), composer_environment=ENVIRONMENT,
                           composer_endpoint=f"http://127.0.0.1:{port}")
    client = AirflowClient(config, transport=build_transport(config, make_pool(), StaticAuth(TOKEN)))
    with pytest.raises(AirflowUnavailable):
        client.trigger(trigger())


def test_a_failed_lookup_is_retried_not_cached() -> None:
    with stub_server(dags(scripted(default=(200, {})))) as airflow:
        answers = [(503, {"error": {"message": "unavailable"}}), environment(airflow.url)]
        lock = threading.Lock()

        def flaky(_: Recorded) -> Answer:
            with lock:
                return answers.pop(0) if len(answers) > 1 else answers[0]

        with stub_server(flaky) as composer:
            client = composer_client(composer)
            assert client.trigger(trigger(), deadline=time.monotonic() + 5).status == "queued"
    assert len(composer.requests) == 2 and len(calls(airflow)) == 1
