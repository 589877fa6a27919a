"""The pipeline and its one error-to-HTTP mapping, with Airflow's answers given by a scripted
client (real Airflow answers are covered in tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airhook import config
from airhook.airflow.client import Outcome
from airhook.errors import (
    AirflowAuthError,
    AirflowRejected,
    AirflowServerError,
    AirflowUnavailable,
    DagNotFound,
    PayloadTooLarge,
)
from airhook.receiver import Receiver, Response
from airhook.routing import Trigger
from airhook.senders.github import sign
from tests.conftest import payload

SECRET = "receiver-test-secret"
BODY = payload("push", "with-new-branch.payload.json")  # ref: refs/heads/master

CONFIG_DOCUMENT: dict[str, Any] = {
    "airflow": {"url": "http://127.0.0.1:1", "api": "v2"},
    "sources": {"github": {"type": "github", "secrets": [SECRET], "max_body_bytes": 1_000_000}},
    "routes": [
        {"name": "deploy", "source": "github", "events": ["push"], "dag_id": "deploy",
         "when": "body.ref == 'refs/heads/master'", "conf": {"sha": "body.after"}},
        {"name": "audit", "source": "github", "events": ["push"], "dag_id": "audit",
         "conf": {"ref": "body.ref"}},
    ],
}
CONFIG = config.parse(CONFIG_DOCUMENT, {})


class ScriptedClient:
    """Answers each trigger with the next scripted outcome or error."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.triggers: list[Trigger] = []

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        assert deadline is not None  # the receiver always bounds the time to reach Airflow
        self.triggers.append(trigger)
        answer = self.answers.pop(0) if self.answers else Outcome("queued", 200)
        if isinstance(answer, BaseException):
            raise answer
        return answer


OPERATOR_TOKEN = "operator-token-for-tests-0123456789"
OPERATOR = {"x-airhook-operator-token": OPERATOR_TOKEN}


def call(client: ScriptedClient, *, method: str = "POST", path: str = "/github",
         body: bytes = BODY, event: str | None = "push", signature: str | None = None,
         headers: dict[str, str] | None = None, config: config.Config = CONFIG,
         operator_token: str | None = OPERATOR_TOKEN,
         reader: Callable[[int], bytes] | None = None) -> tuple[Response, list[dict[str, Any]]]:
    logged: list[dict[str, Any]] = []
    receiver = Receiver(config, client,  # type: ignore[arg-type]
                        log=lambda severity, message, **f: logged.append({"severity": severity, **f}),
                        operator_token=operator_token)
    h = {"content-type": "application/json", "x-github-delivery": "d-1",
         "x-hub-signature-256": signature or sign(SECRET.encode(), body)}
    if event:
        h["x-github-event"] = event
    h.update(headers or {})
    response = receiver.handle(method, path, h, reader or (lambda limit: body))
    return response, logged


UNAUTHORIZED = {"error": "unauthorized", "message": "signature verification failed"}


@pytest.mark.parametrize("kwargs, status, body", [
    ({"method": "GET"}, 405, {"error": "method_not_allowed", "message": "only POST is accepted"}),
    ({"method": "PUT"}, 405, None),
    ({"path": "/gitlab"}, 404, {"error": "unknown_source", "message": "no source is configured at this path"}),
    ({"path": "/"}, 404, None),
    ({"signature": "sha256=" + "0" * 64}, 401, UNAUTHORIZED),
    ({"signature": "garbage"}, 401, UNAUTHORIZED),
    ({"headers": {"x-hub-signature-256": ""}}, 401, UNAUTHORIZED),
    ({"event": None}, 400, {"error": "malformed_request", "message": "missing X-GitHub-Event header"}),
    ({"headers": {"content-type": "text/plain"}}, 415, None),
    ({"body": b"{oops", "signature": sign(SECRET.encode(), b"{oops")}, 400, None),
    ({"headers": {"x-github-delivery": "x" * 201}}, 400, None),
    ({"headers": {"content-length": "1000001"}}, 413, None),
])
def test_rejections(kwargs: dict[str, Any], status: int, body: dict[str, str] | None) -> None:
    client = ScriptedClient()
    response, logged = call(client, **kwargs)
    assert response.status == status
    if body is not None:
        assert response.body == body
    assert client.triggers == []
    assert len(logged) == 1 and logged[0]["severity"] == "WARNING"


def test_trailing_slash_is_the_same_source() -> None:
    assert call(ScriptedClient(), path="/github/")[0].status == 200


def test_405_names_the_allowed_method() -> None:
    assert call(ScriptedClient(), method="GET")[0].headers["Allow"] == "POST"


def test_oversized_body_is_refused_before_it_is_read() -> None:
    def reader(limit: int) -> bytes:
        raise AssertionError("body must not be read")
    assert call(ScriptedClient(), headers={"content-length": str(10**9)}, reader=reader)[0].status == 413


def test_body_over_the_limit_without_content_length() -> None:
    def reader(limit: int) -> bytes:
        assert limit == 1_000_000
        raise PayloadTooLarge("chunked body too large")
    assert call(ScriptedClient(), reader=reader)[0].status == 413


def test_verifier_crash_is_a_plain_401(monkeypatch: pytest.MonkeyPatch) -> None:
    source = CONFIG.sources["github"]
    monkeypatch.setattr(type(source), "verify", lambda self, inbound, now: 1 / 0)
    response, logged = call(ScriptedClient())
    assert (response.status, response.body) == (401, UNAUTHORIZED)
    assert logged[0]["reason"] == "verifier raised ZeroDivisionError"


def test_matched_routes_are_triggered() -> None:
    client = ScriptedClient(Outcome("queued", 200), Outcome("duplicate", 409))
    response, logged = call(client)
    sha = json.loads(BODY)["after"]
    assert response.status == 200
    assert response.body == {"delivery_id": "d-1", "source": "github", "event": "push", "runs": [
        {"route": "deploy", "dag_id": "deploy", "dag_run_id": "airhook__github__deploy__d-1", "status": "queued"},
        {"route": "audit", "dag_id": "audit", "dag_run_id": "airhook__github__audit__d-1", "status": "duplicate"},
    ]}
    assert client.triggers[0].conf == {"sha": sha}
    [line] = logged
    assert line["severity"] == "INFO" and line["outcome"] == "queued"
    assert line["dag_run_ids"] == ["airhook__github__deploy__d-1", "airhook__github__audit__d-1"]


def test_all_duplicates_is_a_duplicate_outcome() -> None:
    response, logged = call(ScriptedClient(Outcome("duplicate", 409), Outcome("duplicate", 409)))
    assert response.status == 200 and logged[0]["outcome"] == "duplicate"


def test_ping_triggers_nothing() -> None:
    client = ScriptedClient()
    response, _ = call(client, event="ping", body=payload("ping"))
    assert response.status == 200 and response.body["message"] == "pong" and client.triggers == []


def test_no_matching_route_is_a_200_with_no_runs() -> None:
    client = ScriptedClient()
    response, logged = call(client, event="issues")
    assert (response.status, response.body["runs"]) == (200, []) and logged[0]["outcome"] == "no_route"


@pytest.mark.parametrize("answers, status, code, statuses, severity", [
    ([AirflowUnavailable("refused")], 503, "airflow_unavailable", ["failed", "not_attempted"], "ERROR"),
    ([AirflowServerError("500", airflow_status=500)], 503, "airflow_unavailable", ["failed", "queued"], "ERROR"),
    ([DagNotFound("no dag", airflow_status=404)], 502, "dag_not_found", ["failed", "queued"], "ERROR"),
    ([AirflowAuthError("403", airflow_status=403)], 502, "airflow_auth_failed", ["failed", "queued"], "ERROR"),
    ([AirflowRejected("422", airflow_status=422)], 502, "airflow_rejected", ["failed", "queued"], "ERROR"),
    ([Outcome("queued", 200), DagNotFound("no dag")], 502, "dag_not_found", ["queued", "failed"], "ERROR"),
    ([DagNotFound("no dag"), AirflowUnavailable("x")], 503, "airflow_unavailable", ["failed", "failed"], "ERROR"),
])
def test_airflow_failures(answers: list[Any], status: int, code: str, statuses: list[str], severity: str) -> None:
    response, logged = call(ScriptedClient(*answers))
    assert response.status == status and response.body["error"] == code
    assert [run["status"] for run in response.body["runs"]] == statuses
    assert response.headers["Retry-After"]
    assert logged[0]["severity"] == severity and logged[0]["run_statuses"] == statuses


def test_outage_cause_is_logged_once_a_minute() -> None:
    receiver_logs: list[dict[str, Any]] = []
    receiver = Receiver(CONFIG, ScriptedClient(*[AirflowUnavailable("refused")] * 3),  # type: ignore[arg-type]
                        log=lambda severity, message, **f: receiver_logs.append(f))
    headers = {"content-type": "application/json", "x-github-event": "push",
               "x-hub-signature-256": sign(SECRET.encode(), BODY)}
    for _ in range(3):
        assert receiver.handle("POST", "/github", headers, lambda limit: BODY).status == 503
    assert ["reason" in line for line in receiver_logs] == [True, False, False]


def test_unexpected_error_is_a_bare_500() -> None:
    response, logged = call(ScriptedClient(KeyError("boom")))
    assert response.status == 500 and response.body == {"error": "internal_error", "message": "internal error"}
    assert logged[0]["reason"] == "unexpected KeyError"


def test_health_touches_nothing() -> None:
    client = ScriptedClient()
    response, logged = call(client, method="GET", path="/_health")
    assert response.status == 200 and logged == [] and client.triggers == []


def test_logs_never_hold_the_secret_or_the_payload() -> None:
    for kwargs in ({}, {"signature": "sha256=" + "0" * 64}, {"event": None}):
        _, logged = call(ScriptedClient(AirflowRejected("422")), **kwargs)
        text = json.dumps(logged)
        assert SECRET not in text and json.loads(BODY)["after"] not in text


def test_dry_run_explains_and_triggers_nothing() -> None:
    client = ScriptedClient()
    response, logged = call(client, headers={"x-airhook-dry-run": "true", **OPERATOR})
    assert response.status == 200 and client.triggers == []
    assert response.body["dry_run"] is True
    deploy, audit = response.body["routes"]
    assert deploy["matched"] and deploy["dag_run_id"] == "airhook__github__deploy__d-1"
    assert deploy["conf"] == {"sha": json.loads(BODY)["after"]}
    assert audit["matched"] and logged[0]["outcome"] == "dry_run"
    response, _ = call(client, event="issues", headers={"x-airhook-dry-run": "1", **OPERATOR})
    assert [r["matched"] for r in response.body["routes"]] == [False, False]
    assert "not in" in response.body["routes"][0]["reason"]


def test_dry_run_by_query_parameter() -> None:
    client = ScriptedClient()
    logged: list[dict[str, Any]] = []
    receiver = Receiver(CONFIG, client, log=lambda severity, message, **f: logged.append(f),  # type: ignore[arg-type]
                        operator_token=OPERATOR_TOKEN)
    headers = {"content-type": "application/json", "x-github-event": "push",
               "x-hub-signature-256": sign(SECRET.encode(), BODY), **OPERATOR}
    response = receiver.handle("POST", "/github", headers, lambda limit: BODY, query="dry_run=true")
    assert response.body["dry_run"] is True and client.triggers == []
    response = receiver.handle("POST", "/github", headers, lambda limit: BODY, query="dry_run=0")
    assert response.body["dry_run"] is True and client.triggers == []  # any value asks for one
    response = receiver.handle("POST", "/github", headers, lambda limit: BODY, query="other=1")
    assert "dry_run" not in response.body and len(client.triggers) == 2


@pytest.mark.parametrize("headers, query", [
    ({"x-airhook-dry-run": value}, "") for value in ("on", "t", "y", "", "0", "no", "TRUE")
] + [({}, query) for query in ("dry_run", "dry_run=", "dry_run=on", "dry_run=x", "a=1&dry_run=0")])
def test_every_dry_run_spelling_is_a_dry_run_never_a_run(headers: dict[str, str], query: str) -> None:
    """A spelling the receiver did not recognise used to trigger the run the operator meant to
    preview: any value of the header or the parameter asks for a dry run (refused without the token)."""
    client = ScriptedClient()
    receiver = Receiver(CONFIG, client, log=lambda severity, message, **f: None,  # type: ignore[arg-type]
                        operator_token=OPERATOR_TOKEN)
    signed = {"content-type": "application/json", "x-github-event": "push", "x-github-delivery": "d-1",
              "x-hub-signature-256": sign(SECRET.encode(), BODY)}
    response = receiver.handle("POST", "/github", {**signed, **headers}, lambda limit: BODY, query=query)
    assert response.status == 403 and response.body["error"] == "dry_run_forbidden"
    assert client.triggers == []


def test_dry_run_still_needs_a_signature() -> None:
    response, _ = call(ScriptedClient(), signature="sha256=" + "0" * 64,
                       headers={"x-airhook-dry-run": "1", **OPERATOR})
    assert response.status == 401


# ------------------------------------------------------------------------ dry runs are for operators (12.7)

FORBIDDEN = {"error": "dry_run_forbidden", "message": "a dry run needs the operator token", "delivery_id": "d-1"}


@pytest.mark.parametrize("operator_token, headers, query, reason", [
    # A captured, validly signed request replayed with the switch: refused, nothing triggered.
    (OPERATOR_TOKEN, {"x-airhook-dry-run": "1"}, "", "without the operator token"),
    (OPERATOR_TOKEN, {}, "dry_run=1", "without the operator token"),
    (OPERATOR_TOKEN, {"x-airhook-dry-run": "1", "x-airhook-operator-token": OPERATOR_TOKEN[:-1]}, "",
     "with a wrong operator token"),
    (OPERATOR_TOKEN, {"x-airhook-dry-run": "1", "x-airhook-operator-token": OPERATOR_TOKEN + "x"}, "",
     "with a wrong operator token"),
    (OPERATOR_TOKEN, {"x-airhook-dry-run": "1", "x-airhook-operator-token": "\udcff\u00e9"}, "",
     "with a wrong operator token"),
    # No token configured for the deployment: no dry runs at all, whatever is presented.
    (None, {"x-airhook-dry-run": "1", **OPERATOR}, "", "no operator token is configured"),
    (None, {"x-airhook-dry-run": "1", "x-airhook-operator-token": ""}, "", "no operator token is configured"),
])
def test_dry_run_without_the_operator_token_is_refused(operator_token: str | None, headers: dict[str, str],
                                                       query: str, reason: str) -> None:
    client = ScriptedClient()
    logged: list[dict[str, Any]] = []
    receiver = Receiver(CONFIG, client, log=lambda severity, message, **f: logged.append(f),  # type: ignore[arg-type]
                        operator_token=operator_token)
    h = {"content-type": "application/json", "x-github-event": "push", "x-github-delivery": "d-1",
         "x-hub-signature-256": sign(SECRET.encode(), BODY), **headers}
    response = receiver.handle("POST", "/github", h, lambda limit: BODY, query=query)
    assert (response.status, response.body) == (403, FORBIDDEN)
    assert client.triggers == [] and "routes" not in response.body
    assert reason in logged[0]["reason"] and OPERATOR_TOKEN not in json.dumps(logged)


def test_without_the_switch_the_token_changes_nothing() -> None:
    client = ScriptedClient()
    response, _ = call(client, headers=OPERATOR)
    assert response.status == 200 and "dry_run" not in response.body and len(client.triggers) == 2


@pytest.mark.parametrize("environ, token", [
    ({}, None), ({"AIRHOOK_OPERATOR_TOKEN": ""}, None),
    ({"AIRHOOK_OPERATOR_TOKEN": "x" * 16}, "x" * 16),
])
def test_operator_token_from_the_environment(environ: dict[str, str], token: str | None) -> None:
    from airhook.http import operator_token
    assert operator_token(environ) == token


def test_a_short_operator_token_stops_the_instance() -> None:
    from airhook.errors import ConfigError
    from airhook.http import operator_token
    with pytest.raises(ConfigError, match="AIRHOOK_OPERATOR_TOKEN: at least 16 characters"):
        operator_token({"AIRHOOK_OPERATOR_TOKEN": "short"})


# ------------------------------------------------------------------------ what responses reveal (11.5)

MINIMAL = config.parse({**{k: v for k, v in CONFIG_DOCUMENT.items()},
                        "sources": {"github": {**CONFIG_DOCUMENT["sources"]["github"], "response": "minimal"}}}, {})


@pytest.mark.parametrize("answers, status, body", [
    ([Outcome("queued", 200), Outcome("queued", 200)], 200, {"delivery_id": "d-1", "outcome": "queued"}),
    ([Outcome("duplicate", 409), Outcome("duplicate", 409)], 200, {"delivery_id": "d-1", "outcome": "duplicate"}),
    ([DagNotFound("no dag")], 502, {"error": "dag_not_found", "message": "the route's DAG does not exist in Airflow",
                                    "delivery_id": "d-1"}),
    ([AirflowUnavailable("refused")], 503, {"error": "airflow_unavailable",
                                            "message": "Airflow is unavailable; retry later", "delivery_id": "d-1"}),
])
def test_minimal_responses_hold_the_delivery_id_and_the_outcome(answers: list[Any], status: int,
                                                                body: dict[str, Any]) -> None:
    client = ScriptedClient(*answers)
    response, logged = call(client, config=MINIMAL)
    assert (response.status, response.body) == (status, body)
    assert "deploy" not in json.dumps(response.body)
    if status == 200:  # the log still has everything
        assert logged[0]["dag_run_ids"] == ["airhook__github__deploy__d-1", "airhook__github__audit__d-1"]


def test_minimal_no_route_and_rejections() -> None:
    response, _ = call(ScriptedClient(), config=MINIMAL, event="issues")
    assert response.body == {"delivery_id": "d-1", "outcome": "no_route"}
    response, _ = call(ScriptedClient(), config=MINIMAL, signature="sha256=" + "0" * 64)
    assert (response.status, response.body) == (401, UNAUTHORIZED)


def test_minimal_keeps_handshakes_and_operator_dry_runs() -> None:
    response, _ = call(ScriptedClient(), config=MINIMAL, event="ping", body=payload("ping"))
    assert response.body["message"] == "pong"
    response, _ = call(ScriptedClient(), config=MINIMAL, headers={"x-airhook-dry-run": "1", **OPERATOR})
    assert response.body["dry_run"] is True and response.body["routes"]


@pytest.mark.parametrize("value", ["none", "", 1, None, ["minimal"]])
def test_response_option_is_checked(value: Any) -> None:
    from airhook.errors import ConfigError
    document = {**CONFIG_DOCUMENT, "sources": {"github": {**CONFIG_DOCUMENT["sources"]["github"], "response": value}}}
    with pytest.raises(ConfigError, match=r"sources\.github\.response: expected one of full, minimal"):
        config.parse(document, {})


def test_full_is_the_default() -> None:
    assert CONFIG.disclosure("github") == "full"


def test_routes_never_see_the_operator_token() -> None:
    document = {**CONFIG_DOCUMENT, "routes": [
        {"name": "echo", "source": "github", "dag_id": "echo", "conf": {"headers": "headers"}}]}
    client = ScriptedClient()
    response, _ = call(client, config=config.parse(document, {}), headers={"x-airhook-dry-run": "1", **OPERATOR})
    assert response.status == 200 and OPERATOR_TOKEN not in json.dumps(response.body)
    call(client, config=config.parse(document, {}), headers=OPERATOR)
    assert OPERATOR_TOKEN not in json.dumps(client.triggers[0].conf)


@pytest.mark.parametrize("length, status", [(200, 200), (201, 400), (100_000, 400)])
def test_an_overlong_event_name_is_refused_before_routing(length: int, status: int) -> None:
    """GitHub's event header is not signed: a captured delivery replayed with a 100 KB event name
    used to reach Airflow as a note it refuses (502), and logs held the whole name."""
    client = ScriptedClient()
    logged: list[dict[str, Any]] = []
    receiver = Receiver(CONFIG, client, log=lambda severity, message, **f: logged.append(f))  # type: ignore[arg-type]
    headers = {"content-type": "application/json", "x-github-event": "e" * length, "x-github-delivery": "d-1",
               "x-hub-signature-256": sign(SECRET.encode(), BODY)}
    response = receiver.handle("POST", "/github", headers, lambda limit: BODY)
    assert response.status == status, response.body
    if status == 400:
        assert response.body["message"] == "event name is longer than 200 characters"
        assert client.triggers == [] and "e" * 201 not in json.dumps(logged)
