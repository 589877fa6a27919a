"""What senders that display or parse the answer get (issue 11.5): Slack commands an ephemeral
message, Slack interactivity an empty acknowledgment, Twilio's form webhooks TwiML; everyone else
the JSON summary, or only the delivery id and outcome with ``response: minimal``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from airhook import config
from airhook.airflow.client import Outcome
from airhook.errors import AirflowUnavailable, ConfNotStorable, MalformedRequest, RouteError
from airhook.http import to_flask
from airhook.receiver import Receiver, error_response
from airhook.responses import TWIML_EMPTY, Response, present
from airhook.routing import Trigger
from airhook.senders import slack, twilio

from .senders.support import NOW, fresh_secret

SLACK_SECRET = fresh_secret()
TWILIO_TOKEN = fresh_secret()
PUBLIC = "https://hooks.example.com"
FORM = "application/x-www-form-urlencoded"


def document(response: str = "full") -> dict[str, Any]:
    return {
        "airflow": {"url": "http://127.0.0.1:1", "api": "v2"},
        "sources": {
            "slack": {"type": "slack", "secrets": [SLACK_SECRET], "response": response},
            "twilio": {"type": "twilio", "secrets": [TWILIO_TOKEN], "public_url": PUBLIC + "/twilio",
                       "response": response},
        },
        "routes": [
            {"name": "deploy-cmd", "source": "slack", "events": ["/deploy"], "dag_id": "deploy"},
            {"name": "approve", "source": "slack", "events": ["block_actions"], "dag_id": "approve"},
            {"name": "mention", "source": "slack", "events": ["app_mention"], "dag_id": "chatops"},
            {"name": "sms", "source": "twilio", "dag_id": "sms_in"},
        ],
    }


class Client:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        answer = self.answers.pop(0) if self.answers else Outcome("queued", 200)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def receiver(response: str = "full", *answers: Any) -> Receiver:
    return Receiver(config.parse(document(response), {}), Client(*answers),  # type: ignore[arg-type]
                    clock=lambda: float(NOW), log=lambda *a, **k: None)


def slack_post(r: Receiver, body: bytes, content_type: str = FORM) -> Response:
    headers = {"content-type": content_type, **slack.sign(SLACK_SECRET.encode(), body, NOW)}
    return r.handle("POST", "/slack", headers, lambda limit: body)


def twilio_post(r: Receiver, body: bytes, content_type: str = FORM, signed: bytes | None = None) -> Response:
    params = parse_qs((body if signed is None else signed).decode())
    signature = twilio.sign(TWILIO_TOKEN.encode(), PUBLIC + "/twilio", params)
    headers = {"content-type": content_type, "x-twilio-signature": signature,
               "i-twilio-idempotency-token": "idem-1"}
    return r.handle("POST", "/twilio", headers, lambda limit: body)


COMMAND = urlencode({"command": "/deploy", "text": "staging", "user_name": "ada", "trigger_id": "1.2.3"}).encode()
BLOCK_ACTIONS = urlencode({"payload": json.dumps({"type": "block_actions", "trigger_id": "4.5.6",
                                                  "actions": [{"action_id": "approve"}]})}).encode()
VIEW_SUBMISSION = urlencode({"payload": json.dumps({"type": "view_submission", "trigger_id": "7.8.9"})}).encode()
EVENT = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention", "text": "hi"}}).encode()
SMS = urlencode({"AccountSid": "AC" + "1" * 32, "MessageSid": "SM1", "Body": "deploy"}).encode()


@pytest.mark.parametrize("response_option, answers, text", [
    ("full", [], "Started: deploy."),
    ("full", [Outcome("duplicate", 409)], "Already started: deploy."),
    ("minimal", [], "Started."),
])
def test_a_slash_command_gets_an_ephemeral_message(response_option: str, answers: list[Any], text: str) -> None:
    response = slack_post(receiver(response_option, *answers), COMMAND)
    assert (response.status, response.body) == (200, {"response_type": "ephemeral", "text": text})
    assert response.content is None  # JSON, which Slack reads as a message


def test_a_slash_command_without_a_route() -> None:
    body = urlencode({"command": "/other", "trigger_id": "1"}).encode()
    response = slack_post(receiver(), body)
    assert response.body == {"response_type": "ephemeral",
                             "text": "Received; nothing is configured to run for it."}


@pytest.mark.parametrize("body", [BLOCK_ACTIONS, VIEW_SUBMISSION], ids=["block_actions", "view_submission"])
def test_interactivity_gets_an_empty_acknowledgment(body: bytes) -> None:
    response = slack_post(receiver(), body)
    assert (response.status, response.content) == (200, b"")
    flask_response = to_flask(response)
    assert flask_response.get_data() == b"" and flask_response.status_code == 200


def test_slack_events_api_keeps_json_and_url_verification_its_challenge() -> None:
    response = slack_post(receiver(), EVENT, "application/json")
    assert response.body["runs"][0]["dag_id"] == "chatops"
    challenge = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    response = slack_post(receiver("minimal"), challenge, "application/json")
    assert response.body["challenge"] == "c-123"


def test_a_slack_error_keeps_its_status_and_reason() -> None:
    response = slack_post(receiver("full", AirflowUnavailable("refused")), COMMAND)
    assert response.status == 503 and response.body["error"] == "airflow_unavailable"


@pytest.mark.parametrize("response_option", ["full", "minimal"])
def test_twilio_form_webhooks_get_twiml(response_option: str) -> None:
    response = twilio_post(receiver(response_option), SMS)
    assert (response.status, response.content, response.media_type) == (200, TWIML_EMPTY, "text/xml")
    flask_response = to_flask(response)
    assert flask_response.headers["Content-Type"].startswith("text/xml")
    assert flask_response.get_data() == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def test_twilio_refusals_stay_json() -> None:
    response = twilio_post(receiver(), SMS.replace(b"deploy", b"delete"), signed=SMS)  # tampered
    assert response.status == 401 and response.content is None
    assert to_flask(response).headers["Content-Type"] == "application/json"


def test_other_answers_are_json() -> None:
    flask_response = to_flask(Response(200, {"delivery_id": "d"}))
    assert flask_response.headers["Content-Type"] == "application/json"
    assert json.loads(flask_response.get_data()) == {"delivery_id": "d"}


@pytest.mark.parametrize("error, fixed", [
    (RouteError("detail", public="route 'secret-route': conf.x could not be evaluated"),
     "a route could not be evaluated for this delivery"),
    (ConfNotStorable("detail", public="route 'secret-route': conf.msg holds a NUL character"),
     "a route's conf holds a value Airflow cannot store"),
    (MalformedRequest("detail", public="body has no string field 'secret_field'"), "malformed request"),
])
def test_minimal_errors_carry_the_fixed_message_only(error: Any, fixed: str) -> None:
    """``response: minimal`` keeps route names, conf keys and fields out of error answers too."""
    answer = present(error_response(error, {"delivery_id": "d-1"}), sender="github", disclosure="minimal",
                     delivery=None, outcome=None)
    assert answer.body == {"error": error.code, "message": fixed, "delivery_id": "d-1"}
    full = present(error_response(error), sender="github", disclosure="full", delivery=None, outcome=None)
    assert full.body["message"] == error.public
