"""Senders other than GitHub, end to end: Stripe, Slack, Standard Webhooks and Cloud Scheduler
(a Google OIDC token) through the real functions-framework server into a real Airflow 3. Each
delivery becomes one run with the mapped conf, and a redelivery (the sender's retry) does not
start a second one. Google's certificate endpoint is the one loopback stand-in."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from airhook.senders import slack, standard_webhooks, stripe
from tests.stubs import StubServer, stub_server
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer

STRIPE_SECRET = "whsec_" + "s" * 32
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SW_KEY = b"standard-webhooks-test-key-bytes"
SW_SECRET = "whsec_" + base64.b64encode(SW_KEY).decode()
AUDIENCE = "https://airhook.example.com/scheduler"
SCHEDULER_SA = "scheduler@airhook-test.iam.gserviceaccount.com"

CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  auth: {type: airflow-jwt, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
sources:
  stripe: {type: stripe, secrets: ["${STRIPE_SECRET}"]}
  slack: {type: slack, secrets: ["${SLACK_SECRET}"]}
  orders: {type: standard-webhooks, secrets: ["${SW_SECRET}"]}
  scheduler:
    type: google-oidc
    audience: ${AUDIENCE}
    service_accounts: [${SCHEDULER_SA}]
    certs_url: ${CERTS_URL}
routes:
  - name: invoice-paid
    source: stripe
    events: [invoice.paid]
    dag_id: billing_sync
    conf: {invoice: body.data.object.id, customer: body.data.object.customer, cents: body.data.object.amount_paid}
  - name: deploy-command
    source: slack
    events: [app_mention]
    dag_id: deploy
    conf: {text: body.event.text, channel: body.event.channel}
  - name: order-created
    source: orders
    events: [order.created]
    dag_id: billing_sync
    conf: {order: body.data.id, total: body.data.total}
  - name: nightly
    source: scheduler
    events: [nightly-billing]
    dag_id: billing_sync
    conf: {job: event, date: body.date}
"""


def google_key() -> tuple[Any, str]:
    """A signer for Google-style ID tokens and the certificate Google would publish for it."""
    from google.auth import crypt
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airhook-test")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1))
            .not_valid_after(dt.datetime(2040, 1, 1)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return crypt.RSASigner.from_string(pem, key_id="k1"), cert.public_bytes(serialization.Encoding.PEM).decode()


SIGNER, CERT = google_key()


@pytest.fixture(scope="module")
def certs() -> Iterator[StubServer]:
    with stub_server(lambda request: (200, {"k1": CERT})) as server:
        yield server


@pytest.fixture(scope="module")
def function(airflow3: AirflowServer, certs: StubServer) -> Iterator[FunctionServer]:
    env = {"AIRFLOW_URL": airflow3.url, "AIRFLOW_USER": airflow3.username,
           "AIRFLOW_PASSWORD": airflow3.password, "STRIPE_SECRET": STRIPE_SECRET,
           "SLACK_SECRET": SLACK_SECRET, "SW_SECRET": SW_SECRET, "AUDIENCE": AUDIENCE,
           "SCHEDULER_SA": SCHEDULER_SA, "CERTS_URL": f"{certs.url}/oauth2/v1/certs"}
    with FunctionServer(CONFIG, env) as server:
        yield server
        for secret in (STRIPE_SECRET, SLACK_SECRET, SW_SECRET):
            assert secret not in server.log_text()


def stripe_delivery() -> tuple[str, bytes, dict[str, str], dict[str, Any]]:
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    body = json.dumps({"id": event_id, "object": "event", "type": "invoice.paid", "data": {"object": {
        "id": "in_1QX", "object": "invoice", "customer": "cus_9", "amount_paid": 4200}}}).encode()
    headers = {"Stripe-Signature": stripe.sign(STRIPE_SECRET.encode(), body, int(time.time()))}
    return "stripe", body, headers, {"invoice": "in_1QX", "customer": "cus_9", "cents": 4200}


def slack_delivery() -> tuple[str, bytes, dict[str, str], dict[str, Any]]:
    body = json.dumps({"type": "event_callback", "team_id": "T1", "event_id": f"Ev{uuid.uuid4().hex[:10]}",
                       "event": {"type": "app_mention", "text": "<@U1> deploy", "channel": "C42"}}).encode()
    return "slack", body, slack.sign(SLACK_SECRET.encode(), body, int(time.time())), \
        {"text": "<@U1> deploy", "channel": "C42"}


def standard_webhooks_delivery() -> tuple[str, bytes, dict[str, str], dict[str, Any]]:
    msg_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
    body = json.dumps({"type": "order.created", "data": {"id": "ord_7", "total": 99.5}}).encode()
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now),
               "webhook-signature": standard_webhooks.sign(SW_KEY, msg_id, now, body)}
    return "orders", body, headers, {"order": "ord_7", "total": 99.5}


def scheduler_delivery() -> tuple[str, bytes, dict[str, str], dict[str, Any]]:
    from google.auth import jwt
    now = int(time.time())
    token = jwt.encode(SIGNER, {"aud": AUDIENCE, "azp": "1", "sub": "1", "email": SCHEDULER_SA,
                                "email_verified": True, "iat": now, "exp": now + 3600,
                                "iss": "https://accounts.google.com"}).decode()
    tick = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{uuid.uuid4().int % 1000:03d}Z"
    headers = {"Authorization": f"Bearer {token}", "X-CloudScheduler": "true",
               "X-CloudScheduler-JobName": "nightly-billing", "X-CloudScheduler-ScheduleTime": tick}
    return "scheduler", b'{"date": "2026-11-25"}', headers, {"job": "nightly-billing", "date": "2026-11-25"}


@pytest.mark.parametrize("build", [stripe_delivery, slack_delivery, standard_webhooks_delivery,
                                   scheduler_delivery],
                         ids=["stripe", "slack", "standard-webhooks", "cloud-scheduler"])
def test_delivery_becomes_one_run_with_its_conf(airflow3: AirflowServer, function: FunctionServer,
                                                build: Callable[[], tuple[str, bytes, dict[str, str], dict[str, Any]]]) -> None:
    source, body, headers, conf = build()
    answers = []
    for attempt in range(2):  # the delivery, then the sender's retry of it
        extra = {"X-Slack-Retry-Num": "1"} if source == "slack" and attempt else {}
        response = requests.post(f"{function.url}/{source}", data=body, timeout=60,
                                 headers={"Content-Type": "application/json", **headers, **extra})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    [run] = answers[0]["runs"]
    assert run["status"] == "queued" and answers[1]["runs"][0] == {**run, "status": "duplicate"}
    runs = [r for r in airflow3.list_dag_runs(run["dag_id"]) if r["dag_run_id"] == run["dag_run_id"]]
    assert len(runs) == 1 and runs[0]["conf"] == conf
