"""``airhook explain`` against fixture configs: per route matched or why not, and for matches the
exact request to Airflow; no secrets set, no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import ROOT, airhook

CONFIGS = Path(__file__).resolve().parent / "configs"
ROUTES = str(CONFIGS / "routes.yaml")
PUSH = json.loads((ROOT / "airhook" / "cli" / "examples" / "github" / "push.json").read_text())


def test_push_to_main_every_routes_verdict_json() -> None:
    result = airhook("explain", "github", "--example", "push", "--delivery-id", "d-1", "--config", ROUTES, "--json")
    assert result.code == 0, result.stderr
    answer = result.json()
    assert (answer["source"], answer["event"], answer["delivery_id"], answer["api"]) == ("github", "push", "d-1", "v2")
    verdicts = {r["route"]: (r["matched"], r["reason"]) for r in answer["routes"]}
    assert verdicts == {
        "deploy-main": (True, "matched"),
        "deploy-staging": (False, "'when' is false"),
        "release": (False, "event 'push' not in ['release']"),
        "invoices": (False, "source is 'github', route wants 'stripe'"),
        "build-done": (False, "source is 'github', route wants 'tool'"),
        "nightly": (False, "source is 'github', route wants 'scheduler'"),
    }
    [match] = [r for r in answer["routes"] if r["matched"]]
    run_id = "airhook__github__deploy-main__d-1"
    assert match["request"] == {
        "method": "POST", "url": "${AIRFLOW_URL}/api/v2/dags/deploy/dagRuns",
        "body": {"dag_run_id": run_id, "conf": {"sha": PUSH["after"], "repo": "octo-org/hello-world"},
                 "logical_date": None, "note": "airhook: github push delivery d-1"}}


def test_human_output() -> None:
    result = airhook("explain", "github", "--payload", str(ROOT / "airhook/cli/examples/github/push.json"),
                     "--event", "push", "--delivery-id", "d-2", "--config", ROUTES)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "github push, delivery d-2"
    assert lines[1] == f"config {ROUTES}, Airflow REST API v2 (api: auto; --api v1 for Airflow 2)"
    assert lines[2].startswith("not set here (not needed to explain): AIRFLOW_PASSWORD, AIRFLOW_URL")
    assert lines[4:6] == ["match  deploy-main", "       POST ${AIRFLOW_URL}/api/v2/dags/deploy/dagRuns"]
    assert '         "dag_run_id": "airhook__github__deploy-main__d-2",' in lines
    assert "skip   deploy-staging: 'when' is false" in lines
    assert "skip   release: event 'push' not in ['release']" in lines
    assert lines[-1] == "1 of 6 route(s) match"
    assert "\033[" not in result.stdout


def test_api_v1_and_a_set_url() -> None:
    result = airhook("explain", "github", "--example", "release-published", "--delivery-id", "d-3", "--api", "v1",
                     "--config", ROUTES, "--json", env={"AIRFLOW_URL": "http://airflow.test:8080/"})
    assert result.code == 0, result.stderr
    [match] = [r for r in result.json()["routes"] if r["matched"]]
    assert match["route"] == "release"
    assert match["request"]["url"] == "http://airflow.test:8080/api/v1/dags/release/dagRuns"
    assert "logical_date" not in match["request"]["body"]  # Airflow 2 refuses it


def test_the_repos_own_payload_with_the_shipped_config() -> None:
    # The default config is ./airhook.yaml, as for the function.
    result = airhook("explain", "github", "--payload", "examples/payloads/github-push.json", "--event", "push",
                     "--json", cwd=ROOT)
    assert result.code == 0, result.stderr
    assert [r["matched"] for r in result.json()["routes"]] == [True]


def test_a_header_names_the_event_and_an_asset_route_posts_an_event(tmp_path: Path) -> None:
    payload = tmp_path / "build.json"
    payload.write_text('{"id": "b-17", "status": "ok"}')
    result = airhook("explain", "tool", "--payload", str(payload), "--header", "X-Event: build.done",
                     "--config", ROUTES, "--json")
    assert result.code == 0, result.stderr
    answer = result.json()
    assert answer["event"] == "build.done"
    [match] = [r for r in answer["routes"] if r["matched"]]
    assert match["request"]["url"] == "${AIRFLOW_URL}/api/v2/assets/events"
    assert match["request"]["body"]["extra"]["build"] == "b-17"
    assert match["request"]["body"]["extra"]["airhook_event_id"] == match["event_id"]


def test_google_oidc_needs_no_credentials() -> None:
    result = airhook("explain", "scheduler", "--example", "scheduler-tick", "--config", ROUTES, "--json")
    assert result.code == 0, result.stderr
    answer = result.json()
    assert answer["event"] == "nightly-etl" and answer["delivery_id"].startswith("nightly-etl__")
    [match] = [r for r in answer["routes"] if r["matched"]]
    assert match["conf"] == {"table": "orders", "by": "scheduler@airhook-test.iam.gserviceaccount.com"}


def test_stripe_event_from_the_body() -> None:
    result = airhook("explain", "stripe", "--example", "invoice-paid", "--config", ROUTES, "--json")
    assert result.code == 0, result.stderr
    [match] = [r for r in result.json()["routes"] if r["matched"]]
    assert match["conf"] == {"invoice": "in_1PGx2hLkdIwHu7ixkH2c1XyZ", "amount": 4900}


@pytest.mark.parametrize("args, code, message", [
    (["stripe", "--payload", "-"], 1,
     "airhook: error: the payload is not a stripe delivery airhook can read: body has no string field 'type'"),
    (["gitlab", "--example", "push"], 2, f"airhook: error: {ROUTES}: no source named 'gitlab' "
                                         "(configured: github, stripe, tool, scheduler)"),
    (["github", "--example", "nope"], 2, "airhook: error: no example 'nope' for github; there are: push, "
                                         "pull-request-merged, release-published"),
    (["github", "--api", "v3"], 2, "airhook: error: argument --api: invalid choice: 'v3'"),
])
def test_errors_are_one_line(args: list[str], code: int, message: str) -> None:
    result = airhook("explain", *args, "--config", ROUTES, input=b'{"id": "evt_1", "data": {}}')
    assert result.code == code
    [line] = result.stderr.splitlines()
    assert line.startswith(message)


def test_a_route_that_cannot_be_evaluated_fails_the_delivery(tmp_path: Path) -> None:
    config = tmp_path / "airhook.yaml"
    config.write_text("""
airflow: {url: "http://airflow.test", api: v2}
sources:
  github: {type: github, secrets: [s]}
routes:
  - {name: fine, source: github, dag_id: deploy}
  - {name: broken, source: github, dag_id: deploy, run_id: "join('-', ['x', body.nope])"}
""")
    result = airhook("explain", "github", "--config", str(config))
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("error  broken: route broken: run_id failed: ") for line in lines)
    assert lines[-1] == "a route could not be evaluated: the function would answer 422 and trigger nothing"
    assert airhook("explain", "github", "--config", str(config), "--json").json()["rejected"] is True


# ------------------------------------------------------------------------------ one request builder


def _airflow_stub(api: str):  # type: ignore[no-untyped-def]
    """Answers as an Airflow of generation ``api`` would, to one trigger of each kind."""
    from tests.stubs import Recorded

    def handler(request: Recorded) -> tuple[int, object]:
        if request.path.endswith("/version"):
            return 200, {"version": "3.1.0" if api == "v2" else "2.10.5"}
        if request.path.startswith("/api/v2/assets?"):
            return 200, {"assets": [{"id": 7, "name": "s3://bucket/raw", "uri": "s3://bucket/raw"}]}
        if request.path.startswith("/api/v1/datasets/s3"):
            return 200, {"id": 7, "uri": "s3://bucket/raw"}
        if "/events?" in request.path:
            return 200, {"asset_events": [], "dataset_events": []}
        if request.path.startswith("/api/v1/dags/") or request.path.startswith("/api/v2/dags/"):
            return (200, {"is_paused": False}) if request.method == "GET" else (200, {})
        return 200, {}
    return handler


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("asset", [None, "s3://bucket/raw"])
def test_explain_shows_the_request_the_client_sends(api: str, asset: str | None) -> None:
    """explain and the client build the request in one place (airflow.client.trigger_request):
    what explain prints is what reaches Airflow, but for the asset id it cannot know offline."""
    from airhook.airflow.client import AirflowClient
    from airhook.cli.explain import airflow_request
    from airhook.config import AirflowConfig
    from airhook.routing import Trigger
    from tests.stubs import stub_server

    trigger = Trigger(route="r", dag_id=None if asset else "deploy/main", dag_run_id="airhook__r__d-1",
                      conf={"sha": "abc"}, note="pushed", asset=asset)
    with stub_server(_airflow_stub(api)) as server:
        AirflowClient(AirflowConfig(url=server.url, api=api)).trigger(trigger)
        [sent] = [r for r in server.requests if r.method == "POST"]
        shown = airflow_request(trigger, api, server.url)
    body = shown["body"]
    if asset is not None and api == "v2":
        assert body["asset_id"] == f"<id of asset {asset}>"
        body = {**body, "asset_id": 7}
    assert (shown["method"], shown["url"], body) == (sent.method, server.url + sent.path, sent.json())
