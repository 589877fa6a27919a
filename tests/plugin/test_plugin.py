"""airhook as an Airflow plugin on real Airflow 2.11 (webserver, Flask blueprint) and 3.3 (API
server, FastAPI app), pip-installed into Airflow's environment: the function's answers, runs
created in that Airflow, and Airflow unharmed by a bad routes file."""

from __future__ import annotations

import http.client
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from airhook.senders.github import sign
from tests.conftest import payload
from tests.plugin.conftest import SECRET, Started

PUSH = payload("push", "with-new-branch.payload.json")  # refs/heads/master
PUSH_BODY = json.loads(PUSH)
RELEASE = payload("release", "published.payload.json")


def deliver(started: Started, body: bytes = PUSH, *, event: str = "push", delivery_id: str | None = None,
            secret: str = SECRET, **headers: str) -> requests.Response:
    return requests.post(f"{started.server.url}/airhook/github", data=body, timeout=60, headers={
        "Content-Type": "application/json", "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret.encode(), body), "User-Agent": "GitHub-Hookshot/test", **headers})


def runs_with_id(started: Started, run_id: str) -> list[dict[str, Any]]:
    return [r for r in started.server.list_dag_runs("deploy") if r["dag_run_id"] == run_id]


def test_bad_config_answers_503_and_airflow_keeps_serving(plugin_airflow: Started) -> None:
    broken = plugin_airflow.broken
    webhook: Any = broken["webhook"]
    assert webhook.status_code == 503 and webhook.json()["error"] == "config_error"
    assert "secret" not in webhook.text.lower()
    assert broken["health"].status_code == 503  # type: ignore[attr-defined]
    assert broken["api"].status == 200  # type: ignore[attr-defined]
    assert broken["ui"].status_code == 200  # type: ignore[attr-defined]


def test_signed_push_becomes_one_run_with_conf_and_note(plugin_airflow: Started) -> None:
    delivery_id = str(uuid.uuid4())
    response = deliver(plugin_airflow, delivery_id=delivery_id)
    assert response.status_code == 200, response.text
    run_id = f"airhook__github__deploy-main__{delivery_id}"
    assert response.json() == {"delivery_id": delivery_id, "source": "github", "event": "push", "runs": [
        {"route": "deploy-main", "dag_id": "deploy", "dag_run_id": run_id, "status": "queued"}]}
    # The run as Airflow holds it (that it then executes is Airflow's business, and the function's
    # end-to-end tests already show the demo DAG succeeding).
    run = plugin_airflow.server.get_dag_run("deploy", run_id)
    assert run is not None, "no run"
    assert run["conf"] == {"sha": PUSH_BODY["after"], "repo": "Codertocat/Hello-World",
                           "pusher": PUSH_BODY["pusher"]["name"]}
    assert run["note"] == f"push {PUSH_BODY['after']}"
    assert run["run_type"] == "manual"
    # The function's log line, on the web tier's stdout.
    log = plugin_airflow.server.log_paths[plugin_airflow.server.api_process].read_text(errors="replace")
    [line] = [json.loads(l) for l in log.splitlines() if l.startswith("{") and delivery_id in l]
    assert line["severity"] == "INFO" and line["outcome"] == "queued" and line["dag_run_ids"] == [run_id]
    assert SECRET not in log


def test_redelivery_is_a_duplicate(plugin_airflow: Started) -> None:
    delivery_id = str(uuid.uuid4())
    statuses = [deliver(plugin_airflow, delivery_id=delivery_id).json()["runs"][0]["status"] for _ in range(3)]
    assert statuses == ["queued", "duplicate", "duplicate"]
    assert len(runs_with_id(plugin_airflow, f"airhook__github__deploy-main__{delivery_id}")) == 1


def test_concurrent_redeliveries_make_one_run(plugin_airflow: Started) -> None:
    delivery_id = str(uuid.uuid4())
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: deliver(plugin_airflow, delivery_id=delivery_id), range(6)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    statuses = sorted(a.json()["runs"][0]["status"] for a in answers)
    assert statuses == ["duplicate"] * 5 + ["queued"]
    assert len(runs_with_id(plugin_airflow, f"airhook__github__deploy-main__{delivery_id}")) == 1


def test_bad_signature_is_401_and_no_run(plugin_airflow: Started) -> None:
    before = len(plugin_airflow.server.list_dag_runs("deploy"))
    response = deliver(plugin_airflow, secret="wrong")
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "message": "signature verification failed"}
    assert len(plugin_airflow.server.list_dag_runs("deploy")) == before


def test_oversized_is_413_before_the_body_is_read(plugin_airflow: Started) -> None:
    body = b"{" + b" " * 200_000 + b"}"
    response = deliver(plugin_airflow, body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_other_answers_are_the_functions(plugin_airflow: Started) -> None:
    url = f"{plugin_airflow.server.url}/airhook"
    assert requests.get(f"{url}/_health", timeout=30).json() == {"status": "ok"}
    assert requests.post(f"{url}/nope", data=b"{}", timeout=30).status_code == 404
    get = requests.get(f"{url}/github", timeout=30)
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    ping = deliver(plugin_airflow, payload("ping"), event="ping")
    assert ping.status_code == 200 and ping.json().get("runs", []) == []


def test_asset_route_posts_one_asset_event(plugin_airflow: Started) -> None:
    delivery_id = str(uuid.uuid4())
    first = deliver(plugin_airflow, RELEASE, event="release", delivery_id=delivery_id)
    assert first.status_code == 200, first.text
    again = deliver(plugin_airflow, RELEASE, event="release", delivery_id=delivery_id)
    assert [first.json()["runs"][0]["status"], again.json()["runs"][0]["status"]] == ["queued", "duplicate"]


def _logged_in(started: Started) -> requests.Session:
    """A browser-like session logged in to Airflow's own UI (3.x: the API's JWT, as the UI's
    cookie carries it; 2.x: FAB's login form, CSRF token included)."""
    server = started.server
    session = requests.Session()
    if server.major >= 3:
        session.headers.update(server.auth_headers())
        return session
    form = session.get(f"{server.url}/login/", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form) or re.search(
        r'id="csrf_token"[^>]*value="([^"]+)"', form)
    assert token, "no CSRF token on Airflow 2's login form"
    done = session.post(f"{server.url}/login/", timeout=30, data={
        "csrf_token": token.group(1), "username": server.username, "password": server.password})
    assert done.status_code == 200, done.status_code
    return session


def _page_url(started: Started) -> str:
    return f"{started.server.url}/airhook/ui/" if started.server.major >= 3 else f"{started.server.url}/airhook-ui/"


def test_the_page_needs_a_login(plugin_airflow: Started) -> None:
    anonymous = requests.get(_page_url(plugin_airflow), timeout=30, allow_redirects=False)
    assert anonymous.status_code in (302, 303), anonymous.status_code
    assert "login" in anonymous.headers["Location"].lower()
    assert "airhook__" not in anonymous.text


def test_the_page_lists_a_delivery_just_sent(plugin_airflow: Started) -> None:
    delivery_id = str(uuid.uuid4())
    assert deliver(plugin_airflow, delivery_id=delivery_id).status_code == 200
    session = _logged_in(plugin_airflow)
    page = session.get(_page_url(plugin_airflow), timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert f"airhook__github__deploy-main__{delivery_id}" in page.text
    assert "deploy-main" in page.text and "DAG deploy" in page.text
    only = session.get(_page_url(plugin_airflow), params={"delivery": delivery_id}, timeout=30).text
    assert only.count("<code>airhook__") == 1
    none = session.get(_page_url(plugin_airflow), params={"source": "nope"}, timeout=30).text
    assert "<code>airhook__" not in none


# ------------------------------------------------------------------------------- issue 14 (pluginfix)

MIB = 1 << 20


def _post_whole_body(started: Started, path: str, size: int) -> tuple[int, dict[str, Any]]:
    """urllib sends the whole body before it reads (no ``Expect: 100-continue``), as many senders'
    HTTP libraries: it sees the answer only if the server reads the rest of the body first."""
    import urllib.error
    import urllib.request
    request = urllib.request.Request(f"{started.server.url}/airhook/{path}", data=b"x" * size,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("path, size, status, error", [
    ("github", 26 * MIB, 413, "payload_too_large"),  # over GitHub's 25 MiB cap, refused by Content-Length
    ("github", 3 * MIB, 413, "payload_too_large"),
    ("nowhere", 3 * MIB, 404, "unknown_source"),     # no source: refused before reading, drained all the same
])
def test_a_client_sending_the_whole_body_reads_the_refusal(plugin_airflow: Started, path: str, size: int,
                                                           status: int, error: str) -> None:
    for _ in range(3):  # was ECONNRESET/EPIPE every time on Airflow 3
        got, body = _post_whole_body(plugin_airflow, path, size)
        assert (got, body["error"]) == (status, error), body


def test_http_client_too(plugin_airflow: Started) -> None:
    host, port = plugin_airflow.server.url.split("//", 1)[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/airhook/github", body=b"{" + b" " * (26 * MIB) + b"}",
                           headers={"Content-Type": "application/json", "X-GitHub-Event": "push"})
        response = connection.getresponse()
        assert response.status == 413 and json.loads(response.read())["error"] == "payload_too_large"
        assert response.getheader("Connection") == "close"
    finally:
        connection.close()


def test_a_paused_dag_is_reported(plugin_airflow: Started) -> None:
    server = plugin_airflow.server
    assert server.request("PATCH", "dags/billing_sync", {"is_paused": True}).status == 200
    delivery_id = str(uuid.uuid4())
    response = deliver(plugin_airflow, payload("issues", "opened.payload.json"), event="issues",
                       delivery_id=delivery_id)
    assert response.status_code == 200, response.text
    run_id = f"airhook__github__paused__{delivery_id}"
    assert response.json()["runs"] == [{"route": "paused", "dag_id": "billing_sync", "dag_run_id": run_id,
                                        "status": "queued", "dag_paused": True}]
    log = server.log_paths[server.api_process].read_text(errors="replace")
    lines = [json.loads(l) for l in log.splitlines() if l.startswith("{") and run_id in l]
    assert any(l["severity"] == "WARNING" and l.get("dag_paused") is True for l in lines), lines
    # An unpaused DAG says nothing (the exact answer in test_signed_push_becomes_one_run_with_conf_and_note).


def test_the_page_shows_source_types(plugin_airflow: Started) -> None:
    page = _logged_in(plugin_airflow).get(_page_url(plugin_airflow), timeout=30).text
    assert "<td>github</td><td>github</td>" in page and "GitHubSource" not in page


def test_ui_without_slash_is_the_page(plugin_airflow: Started) -> None:
    url = f"{plugin_airflow.server.url}/airhook/ui"
    response = requests.get(url, params={"source": "github"}, timeout=30, allow_redirects=False)
    assert response.status_code == 308, response.text
    assert response.headers["Location"].endswith("/airhook/ui/?source=github" if plugin_airflow.server.major >= 3
                                                 else "/airhook-ui/?source=github")


def test_a_bad_login_cookie_goes_to_the_login_page(plugin_airflow: Started) -> None:
    if plugin_airflow.server.major < 3:
        pytest.skip("Airflow 2's page is FAB's view: its session cookie, its own login redirect")
    for token in ("not-a-jwt", "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"):
        response = requests.get(_page_url(plugin_airflow), cookies={"_token": token}, timeout=30,
                                allow_redirects=False)
        assert response.status_code == 303, (response.status_code, response.text)
        assert "login" in response.headers["Location"].lower()
