"""Several sender types through the real pipeline: ``config.parse`` + ``Receiver``, with a fake
Airflow client that records what it is asked to trigger (real Airflow is in tests/integration)."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks.webhooks as stdwh
import stripe
from slack_sdk.signature import SignatureVerifier

from airhook import config
from airhook.airflow.client import Outcome
from airhook.receiver import Receiver, Response
from airhook.routing import Trigger

from .support import NOW, fresh_secret

STRIPE_SECRET = fresh_secret("whsec_")
SLACK_SECRET = fresh_secret()
CLERK_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
MANUAL_TOKEN = fresh_secret()

DOCUMENT = {
    "airflow": {"url": "http://127.0.0.1:1", "api": "v2"},
    "sources": {
        "stripe": {"type": "stripe", "secrets": ["${STRIPE_SECRET}", "${STRIPE_SECRET_PREVIOUS:-}"]},
        "slack": {"type": "slack", "secrets": ["${SLACK_SECRET}"]},
        "clerk": {"type": "standard-webhooks", "secrets": ["${CLERK_SECRET}"]},
        "manual": {"type": "token", "tokens": ["${MANUAL_TOKEN}"], "event": {"body": "action"}},
    },
    "routes": [
        {"name": "invoice", "source": "stripe", "events": ["invoice.paid"], "dag_id": "billing_sync",
         "conf": {"invoice": "body.data.object.id", "amount": "body.data.object.amount_paid"}},
        {"name": "mention", "source": "slack", "events": ["app_mention"], "dag_id": "chatops",
         "conf": {"text": "body.event.text"}},
        {"name": "deploy-cmd", "source": "slack", "events": ["/deploy"], "dag_id": "deploy",
         "conf": {"target": "form.text", "user": "body.user_name"}},
        {"name": "user", "source": "clerk", "events": ["user.created"], "dag_id": "onboard",
         "conf": {"user": "body.data.id"}},
        {"name": "backfill", "source": "manual", "events": ["backfill"], "dag_id": "backfill",
         "conf": {"date": "body.date"}},
    ],
}
ENVIRON = {"STRIPE_SECRET": STRIPE_SECRET, "SLACK_SECRET": SLACK_SECRET, "CLERK_SECRET": CLERK_SECRET,
           "MANUAL_TOKEN": MANUAL_TOKEN}
CONFIG = config.parse(DOCUMENT, ENVIRON)
UNAUTHORIZED = {"error": "unauthorized", "message": "signature verification failed"}


class RecordingClient:
    """Airflow stand-in: a run id it has seen before is a duplicate, as Airflow's 409 would say."""

    def __init__(self) -> None:
        self.triggers: list[Trigger] = []

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        seen = any(t.dag_run_id == trigger.dag_run_id for t in self.triggers)
        self.triggers.append(trigger)
        return Outcome("duplicate", 409) if seen else Outcome("queued", 200)


def post(receiver: Receiver, path: str, body: bytes, headers: dict[str, str],
         content_type: str = "application/json") -> Response:
    merged = {"content-type": content_type, **{k.lower(): v for k, v in headers.items()}}
    return receiver.handle("POST", path, merged, lambda limit: body)


@pytest.fixture
def client() -> RecordingClient:
    return RecordingClient()


@pytest.fixture
def receiver(client: RecordingClient) -> Receiver:
    return Receiver(CONFIG, client, clock=lambda: float(NOW), log=lambda *a, **k: None)  # type: ignore[arg-type]


def stripe_event(event_id: str = "evt_1Pq") -> bytes:
    return json.dumps({"id": event_id, "type": "invoice.paid",
                       "data": {"object": {"id": "in_42", "amount_paid": 1250}}}).encode()


def stripe_headers(body: bytes, timestamp: int = NOW) -> dict[str, str]:
    return {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
        body.decode(), STRIPE_SECRET, timestamp=timestamp)}


def test_stripe_event_triggers_once_across_redeliveries(receiver: Receiver, client: RecordingClient) -> None:
    body = stripe_event()
    first = post(receiver, "/stripe", body, stripe_headers(body))
    assert first.status == 200 and first.body["runs"] == [
        {"route": "invoice", "dag_id": "billing_sync", "dag_run_id": "airhook__stripe__invoice__evt_1Pq",
         "status": "queued"}]
    assert client.triggers[0].conf == {"invoice": "in_42", "amount": 1250}
    # Stripe retries the same event, freshly signed: same run id, Airflow says duplicate.
    again = post(receiver, "/stripe/", body, stripe_headers(body, NOW - 120))
    assert again.status == 200 and again.body["runs"][0]["status"] == "duplicate"
    assert [t.dag_run_id for t in client.triggers] == ["airhook__stripe__invoice__evt_1Pq"] * 2


@pytest.mark.parametrize("headers", [
    {},
    {"Stripe-Signature": "t=1,v1=" + "0" * 64},
    {"Stripe-Signature": "garbage"},
])
def test_stripe_rejections_are_uniform_401s(receiver: Receiver, client: RecordingClient,
                                            headers: dict[str, str]) -> None:
    response = post(receiver, "/stripe", stripe_event(), headers)
    assert (response.status, response.body) == (401, UNAUTHORIZED) and client.triggers == []


def test_stripe_replay_outside_the_window_is_a_401(receiver: Receiver, client: RecordingClient) -> None:
    body = stripe_event()
    for timestamp in (NOW - 301, NOW + 301):
        response = post(receiver, "/stripe", body, stripe_headers(body, timestamp))
        assert (response.status, response.body) == (401, UNAUTHORIZED)
    assert client.triggers == []


def slack_headers(body: bytes, timestamp: int = NOW) -> dict[str, str]:
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(timestamp)}


def test_slack_url_verification_is_answered_without_a_run(receiver: Receiver, client: RecordingClient) -> None:
    body = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"}).encode()
    response = post(receiver, "/slack", body, slack_headers(body))
    assert response.status == 200 and response.body["challenge"] == "c-123" and client.triggers == []


def test_slack_event_and_its_retry(receiver: Receiver, client: RecordingClient) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev1",
                       "event": {"type": "app_mention", "text": "deploy please"}}).encode()
    assert post(receiver, "/slack", body, slack_headers(body)).body["runs"][0]["status"] == "queued"
    retry = post(receiver, "/slack", body, {**slack_headers(body, NOW + 5), "X-Slack-Retry-Num": "1"})
    assert retry.body["runs"][0]["status"] == "duplicate"
    assert client.triggers[0].conf == {"text": "deploy please"}


def test_slack_slash_command_maps_form_fields(receiver: Receiver, client: RecordingClient) -> None:
    body = b"token=legacy&command=%2Fdeploy&text=staging&user_name=ada&trigger_id=1.2.3"
    response = post(receiver, "/slack", body, slack_headers(body), "application/x-www-form-urlencoded")
    assert response.status == 200 and client.triggers[0].dag_id == "deploy"
    assert client.triggers[0].conf == {"target": "staging", "user": "ada"}


def test_standard_webhooks_delivery(receiver: Receiver, client: RecordingClient) -> None:
    body = json.dumps({"type": "user.created", "data": {"id": "user_2"}}).encode()
    signature = stdwh.Webhook(CLERK_SECRET).sign("msg_1", datetime.fromtimestamp(NOW, tz=UTC), body.decode())
    headers = {"svix-id": "msg_1", "svix-timestamp": str(NOW), "svix-signature": signature}  # Clerk sends svix-*
    response = post(receiver, "/clerk", body, headers)
    assert response.status == 200 and response.body["runs"][0]["dag_run_id"] == "airhook__clerk__user__msg_1"
    assert client.triggers[0].conf == {"user": "user_2"}


def test_manual_token_request(receiver: Receiver, client: RecordingClient) -> None:
    body = json.dumps({"action": "backfill", "date": "2024-01-01"}).encode()
    response = post(receiver, "/manual", body, {"Authorization": f"Bearer {MANUAL_TOKEN}"})
    assert response.status == 200 and client.triggers[0].conf == {"date": "2024-01-01"}
    wrong = post(receiver, "/manual", body, {"Authorization": "Bearer nope"})
    assert (wrong.status, wrong.body) == (401, UNAUTHORIZED)


def test_secrets_never_reach_the_log(client: RecordingClient) -> None:
    lines: list[dict[str, Any]] = []
    receiver = Receiver(CONFIG, client, clock=lambda: float(NOW),  # type: ignore[arg-type]
                        log=lambda severity, message, **fields: lines.append({"m": message, **fields}))
    body = stripe_event()
    post(receiver, "/stripe", body, stripe_headers(body))
    post(receiver, "/stripe", body, {"Stripe-Signature": "t=1,v1=" + "0" * 64})
    post(receiver, "/manual", b"{}", {"Authorization": f"Bearer {MANUAL_TOKEN}x"})
    text = json.dumps(lines) + repr(CONFIG)
    for secret in (STRIPE_SECRET, SLACK_SECRET, CLERK_SECRET, MANUAL_TOKEN):
        assert secret not in text
