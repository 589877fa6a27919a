"""The durable (queue) mode without a network: the ``delivery`` config section, the message
format, the Pub/Sub REST client against a loopback stub, receive's 202/503, deliver's decisions and
redrive. The real emulator and Airflow are in tests/integration/test_queue_mode.py."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import flask
import pytest
import werkzeug.exceptions
from cloudevents.http import CloudEvent
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from airhook import config
from airhook.airflow.client import Outcome
from airhook.deliver import Breaker, Deliverer, Pushed, Verdict, permanent
from airhook.delivery import Delivery
from airhook.enqueue import Enqueuer
from airhook.envelope import (
    SIGNATURE_ATTRIBUTE,
    Envelope,
    MalformedEnvelope,
    parse_timestamp,
    rfc3339,
    verify,
)
from airhook.errors import (
    AirflowAuthError,
    AirflowError,
    AirflowRejected,
    AirflowServerError,
    AirflowUnavailable,
    ConfigError,
    DagNotFound,
    PayloadTooLarge,
    QueueUnavailable,
)
from airhook.http import deliver_event
from airhook.pubsub import Message, PubSub, Received, attribute
from airhook.receiver import Receiver
from airhook.redrive import redrive
from airhook.routing import Trigger
from airhook.senders.github import sign
from airhook.senders.google_oidc import CertCache
from tests.stubs import stub_server

TOPIC = "projects/p/topics/airhook-deliveries"
DEAD = "projects/p/topics/airhook-dead-letter"
SECRET = "durable-secret"
NOW = 1_750_000_000.0

BASE: dict[str, Any] = {
    "airflow": {"url": "http://127.0.0.1:1", "api": "v2"},
    "sources": {"github": {"type": "github", "secrets": [SECRET]}},
    "routes": [{"name": "deploy", "source": "github", "events": ["push"], "dag_id": "deploy",
                "conf": {"sha": "body.after"}},
               {"name": "audit", "source": "github", "events": ["push"], "dag_id": "audit"}],
}
#: The message-signing key, the one it replaced (still accepted during a rotation), and one that
#: airhook never held.
KEY = "k" * 32
OLD_KEY = "o" * 32
ROGUE_KEY = "r" * 32
PUSH_AUDIENCE = "https://europe-west1-p.cloudfunctions.net/airhook-deliver"
PUSH_ACCOUNT = "airhook-push@p.iam.gserviceaccount.com"
QUEUE = {"mode": "queue", "topic": TOPIC, "dead_letter_topic": DEAD, "signing_keys": [KEY, OLD_KEY],
         "push": {"audience": PUSH_AUDIENCE, "service_accounts": [PUSH_ACCOUNT]}}


def make_key(kid: str) -> tuple[crypt.RSASigner, str]:
    """A signer and the certificate Google would publish for it (as tests/unit/senders do)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.example")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return crypt.RSASigner.from_string(pem, key_id=kid), cert.public_bytes(serialization.Encoding.PEM).decode()


GOOGLE, GOOGLE_CERT = make_key("kid-1")
NOT_GOOGLE, _ = make_key("kid-1")  # claims Google's key id, signs with another key


def google_certs() -> CertCache:
    """Google's certificates, served without a network."""
    return CertCache("https://www.googleapis.com/oauth2/v1/certs",
                     lambda url, timeout: (200, {}, json.dumps({"kid-1": GOOGLE_CERT}).encode()))


def push_token(signer: crypt.RSASigner = GOOGLE, **changes: Any) -> str:
    """``Authorization`` as a push subscription with an oidcToken sends it."""
    claims = {"iss": "https://accounts.google.com", "aud": PUSH_AUDIENCE, "email": PUSH_ACCOUNT,
              "email_verified": True, "sub": "1", "iat": int(NOW) - 10, "exp": int(NOW) + 3590, **changes}
    return "Bearer " + jwt.encode(signer, {k: v for k, v in claims.items() if v is not ...}).decode()


TOKEN = push_token()


def parse(delivery: Any) -> config.Config:
    return config.parse({**BASE, "delivery": delivery}, {})


CONFIG = parse({**QUEUE, "max_delivery_attempts": 10, "minimum_backoff": 10, "retry_hours": 72})


# ------------------------------------------------------------------------------------ config


def test_direct_is_the_default() -> None:
    assert config.parse(BASE, {}).delivery == config.DeliveryConfig()
    assert config.parse(BASE, {}).delivery.mode == "direct"


def test_queue_values_from_environment_strings() -> None:
    """Terraform hands these over as environment variables, i.e. strings."""
    document = {**BASE, "delivery": {**QUEUE, "max_delivery_attempts": "${ATTEMPTS}",
                                     "minimum_backoff": "${BACKOFF}", "publish_timeout": "3"}}
    loaded = config.parse(document, {"ATTEMPTS": "100", "BACKOFF": "10s"}).delivery
    assert (loaded.max_delivery_attempts, loaded.minimum_backoff, loaded.publish_timeout) == (100, 10.0, 3.0)


@pytest.mark.parametrize("delivery, message", [
    ({"mode": "later"}, "delivery.mode: expected one of direct, queue"),
    ({"mode": "queue"}, "delivery.topic: expected a non-empty string"),
    ({**QUEUE, "dead_letter_topic": None}, "delivery.dead_letter_topic: expected a non-empty string"),
    ({**QUEUE, "topic": "airhook"}, "delivery.topic: expected projects/PROJECT/topics/TOPIC"),
    ({**QUEUE, "topic": "projects/p/topics/ab"}, "expected projects/PROJECT/topics/TOPIC"),
    ({**QUEUE, "dead_letter_topic": TOPIC}, "delivery.dead_letter_topic: must differ"),
    ({**QUEUE, "max_delivery_attempts": 4}, "max_delivery_attempts: expected a number above 4"),
    ({**QUEUE, "max_delivery_attempts": 101}, "and at most 100"),
    ({**QUEUE, "max_delivery_attempts": 7.5}, "expected a whole number"),
    ({**QUEUE, "minimum_backoff": "601s"}, "minimum_backoff: expected seconds"),
    ({**QUEUE, "retry_hours": "72s"}, "retry_hours: expected a number"),
    ({**QUEUE, "retry_hours": 0}, "retry_hours: expected a number above 0"),
    ({**QUEUE, "publish_timeout": True}, "publish_timeout: expected seconds"),
    ({**QUEUE, "topics": TOPIC}, "delivery: unknown key(s) topics"),
    ("queue", "delivery: expected a mapping"),
])
def test_invalid_delivery_sections(delivery: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(delivery)


# ------------------------------------------------------------------------------------ envelope


def delivery(delivery_id: str = "d-1") -> Delivery:
    return Delivery(source="github", event="push", delivery_id=delivery_id, body={"after": "abc"},
                    headers={"x-hub-signature-256": "sha256=secret-looking"})


def trigger(dag_id: str = "deploy", run_id: str = "airhook__github__deploy__d-1") -> Trigger:
    return Trigger(route="deploy", dag_id=dag_id, dag_run_id=run_id, conf={"sha": "abc"}, note="n")


def envelope_data(**changes: Any) -> bytes:
    doc = json.loads(Envelope.for_trigger(trigger(), delivery(), NOW).to_message(KEY.encode()).data)
    doc.update(changes)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


def test_envelope_round_trip_and_attributes() -> None:
    message = Envelope.for_trigger(trigger(), delivery(), NOW).to_message(KEY.encode())
    back = Envelope.from_data(message.data)
    assert back.trigger() == trigger()
    assert (back.source, back.event, back.delivery_id, back.accepted_at) == ("github", "push", "d-1", NOW)
    assert message.attributes == {
        "airhook_kind": "dag_run", "airhook_source": "github", "airhook_event": "push",
        "airhook_delivery_id": "d-1", "airhook_route": "deploy", "airhook_dag_id": "deploy",
        "airhook_dag_run_id": "airhook__github__deploy__d-1", "airhook_accepted_at": rfc3339(NOW),
        SIGNATURE_ATTRIBUTE: message.attributes[SIGNATURE_ATTRIBUTE]}
    verify(message.data, message.attributes, (KEY.encode(),))
    assert b"secret-looking" not in message.data  # headers never travel


def test_asset_envelope_round_trip() -> None:
    asset = Trigger(route="r", dag_id=None, dag_run_id="ev-1", conf={"k": 1}, asset="s3://b/k")
    message = Envelope.for_trigger(asset, delivery(), NOW).to_message(KEY.encode())
    assert Envelope.from_data(message.data).trigger() == asset
    assert message.attributes["airhook_kind"] == "asset_event"
    assert message.attributes["airhook_asset"] == "s3://b/k"


@pytest.mark.parametrize("data, message", [
    (b"{not json", "data is not JSON"),
    (b"[1]", "not a JSON object"),
    (envelope_data(v=2), "unknown envelope version"),
    (envelope_data(kind="email"), "unknown kind"),
    (envelope_data(dag_id="no spaces allowed"), "dag_id: not a valid Airflow DAG id"),
    # path segments, not ids: /dags/../dagRuns would name another resource
    (envelope_data(dag_id="."), "dag_id: not a valid Airflow DAG id"),
    (envelope_data(dag_id=".."), "dag_id: not a valid Airflow DAG id"),
    (envelope_data(dag_id="deploy\n"), "dag_id: not a valid Airflow DAG id"),
    (envelope_data(dag_run_id=".."), "dag_run_id: not a valid Airflow run id"),
    (envelope_data(dag_run_id="a/b"), "dag_run_id: not a valid Airflow run id"),
    (envelope_data(dag_run_id=...), "dag_run_id: expected a non-empty string"),
    (envelope_data(conf=[1]), "conf: expected a JSON object"),
    (envelope_data(note=3), "note: expected a string or null"),
    (envelope_data(accepted_at="yesterday"), "accepted_at: not an RFC 3339 time"),
])
def test_malformed_envelopes(data: bytes, message: str) -> None:
    with pytest.raises(MalformedEnvelope, match=message):
        Envelope.from_data(data)


def test_publish_times_with_nanoseconds() -> None:
    assert parse_timestamp("2025-06-15T15:06:40.123456789Z") == pytest.approx(1750000000.123456)
    assert parse_timestamp(rfc3339(NOW)) == NOW


def test_attribute_values_are_cut_to_pubsubs_limit() -> None:
    assert len(attribute("é" * 1000).encode()) <= 1024
    assert attribute("short") == "short"


# ------------------------------------------------------------------------------------ Pub/Sub client


def test_publish_to_the_emulator_without_credentials() -> None:
    with stub_server(lambda r: (200, {"messageIds": ["7", "8"]})) as stub:
        client = PubSub(environ={"PUBSUB_EMULATOR_HOST": stub.url.removeprefix("http://")})
        ids = client.publish(TOPIC, [Message(b"one", {"a": "1"}), Message(b"two")])
    assert ids == ["7", "8"]
    [request] = stub.requests
    assert request.path == f"/v1/{TOPIC}:publish"
    assert "authorization" not in request.headers
    assert request.json() == {"messages": [{"data": base64.b64encode(b"one").decode(), "attributes": {"a": "1"}},
                                           {"data": base64.b64encode(b"two").decode(), "attributes": {}}]}


class FakeCredentials:
    """google-auth's credential interface, as much as PubSub uses."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.refreshes = 0

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"

    def apply(self, headers: dict[str, str]) -> None:
        headers["authorization"] = f"Bearer {self.token}"


def test_google_credentials_and_one_refresh_after_401(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [(401, {"error": {"message": "expired"}}), (200, {"messageIds": ["1"]})]
    credentials = FakeCredentials()
    with stub_server(lambda r: answers.pop(0)) as stub:
        client = PubSub(environ={}, credentials=credentials)
        monkeypatch.setattr(client, "root", stub.url)
        assert client.publish(TOPIC, [Message(b"x")]) == ["1"]
    assert [r.headers["authorization"] for r in stub.requests] == ["Bearer token-1", "Bearer token-2"]


def test_transient_failures_are_retried_within_the_budget() -> None:
    answers = [(503, {}), (429, {}), (200, {"messageIds": ["1"]})]
    with stub_server(lambda r: answers.pop(0)) as stub:
        client = PubSub(environ={"PUBSUB_EMULATOR_HOST": stub.url[7:]}, sleep=lambda s: None)
        assert client.publish(TOPIC, [Message(b"x")]) == ["1"]
    assert len(stub.requests) == 3


@pytest.mark.parametrize("status, message", [
    (403, "answered 403: User not authorized"),
    (404, "answered 404: User not authorized"),
])
def test_permanent_publish_failures_are_not_retried(status: int, message: str) -> None:
    with stub_server(lambda r: (status, {"error": {"message": "User not authorized"}})) as stub:
        client = PubSub(environ={"PUBSUB_EMULATOR_HOST": stub.url[7:]})
        with pytest.raises(QueueUnavailable, match=message):
            client.publish(TOPIC, [Message(b"x")])
    assert len(stub.requests) == 1


def test_an_unreachable_pubsub_gives_up_at_the_timeout() -> None:
    clock = iter(range(100)).__next__  # one second per look at the clock
    client = PubSub(environ={"PUBSUB_EMULATOR_HOST": "127.0.0.1:9"}, timeout=5,
                    clock=lambda: float(clock()), sleep=lambda s: None)
    with pytest.raises(QueueUnavailable, match=r"publish projects/p/topics/airhook-deliveries: "
                                               r".*ConnectionRefusedError.*gave up after 5s"):
        client.publish(TOPIC, [Message(b"x")])


# ------------------------------------------------------------------------------------ receive


class FakePubSub:
    """Records publishes; raises ``fail`` instead when set."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.published: list[tuple[str, list[Message]]] = []

    def publish(self, topic: str, messages: Sequence[Message], *, timeout: float | None = None) -> list[str]:
        if self.fail is not None:
            raise self.fail
        self.published.append((topic, list(messages)))
        return [str(len(self.published) * 100 + i) for i in range(len(messages))]


class NoAirflow:
    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        raise AssertionError("queue mode must not call Airflow from receive")


def receive(pubsub: FakePubSub) -> tuple[Any, list[dict[str, Any]]]:
    logged: list[dict[str, Any]] = []
    receiver = Receiver(CONFIG, NoAirflow(), enqueuer=Enqueuer(CONFIG.delivery, pubsub, clock=lambda: NOW),  # type: ignore[arg-type]
                        log=lambda severity, message, **f: logged.append({"severity": severity, **f}))
    body = json.dumps({"after": "abc"}).encode()
    headers = {"content-type": "application/json", "x-github-event": "push", "x-github-delivery": "d-1",
               "x-hub-signature-256": sign(SECRET.encode(), body)}
    return receiver.handle("POST", "/github", headers, lambda limit: body), logged


def test_queue_mode_answers_202_once_published() -> None:
    pubsub = FakePubSub()
    response, [line] = receive(pubsub)
    assert response.status == 202
    assert response.body["runs"] == [
        {"route": "deploy", "dag_id": "deploy", "dag_run_id": "airhook__github__deploy__d-1", "status": "accepted"},
        {"route": "audit", "dag_id": "audit", "dag_run_id": "airhook__github__audit__d-1", "status": "accepted"}]
    [(topic, messages)] = pubsub.published  # one request for both runs
    assert topic == TOPIC and [Envelope.from_data(m.data).dag_id for m in messages] == ["deploy", "audit"]
    assert Envelope.from_data(messages[0].data).conf == {"sha": "abc"}
    assert (line["severity"], line["outcome"], line["message_ids"]) == ("INFO", "accepted", ["100", "101"])


def test_queue_mode_publish_failure_is_a_503() -> None:
    response, [line] = receive(FakePubSub(QueueUnavailable("POST publish: ConnectionRefusedError")))
    assert response.status == 503
    assert response.headers["Retry-After"] == "10"
    assert response.body["error"] == "queue_unavailable"
    assert "ConnectionRefused" not in json.dumps(response.body)
    assert (line["severity"], line["outcome"]) == ("ERROR", "queue_unavailable")


def test_messages_too_large_for_one_publish_are_a_413() -> None:
    big = Trigger(route="r", dag_id="deploy", dag_run_id="x", conf={"blob": "x" * 8_000_000})
    with pytest.raises(PayloadTooLarge):
        Enqueuer(CONFIG.delivery, FakePubSub()).enqueue(delivery(), [big])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ deliver


class ScriptedAirflow:
    def __init__(self, answer: Outcome | Exception) -> None:
        self.answer = answer
        self.triggers: list[Trigger] = []

    def trigger(self, trigger: Trigger, deadline: float | None = None) -> Outcome:
        self.triggers.append(trigger)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def pushed(*, age: float = 0.0, attempt: int | None = None, attributes: Mapping[str, str] | None = None,
           data: bytes | None = None, accepted_age: float = 0.0, key: str | None = KEY,
           authorization: str | None = TOKEN, envelope: Envelope | None = None) -> Pushed:
    """A push as Pub/Sub makes it: signed data (``key``; None: unsigned) and an OIDC token."""
    if data is None:
        envelope = envelope or Envelope.for_trigger(trigger(), delivery(), NOW - accepted_age)
        data = envelope.to_message(KEY.encode()).data
    signature = {} if key is None else {SIGNATURE_ATTRIBUTE: signed(data, key)}
    return Pushed("m-1", data, {**(attributes or {"airhook_delivery_id": "d-1"}), **signature},
                  publish_time=NOW - age, delivery_attempt=attempt, subscription="projects/p/subscriptions/s",
                  authorization=authorization)


def signed(data: bytes, key: str) -> str:
    from airhook.envelope import sign as sign_envelope
    return sign_envelope(data, key.encode())


def deliver(answer: Outcome | Exception, message: Pushed, *, pubsub: FakePubSub | None = None,
            cfg: config.Config = CONFIG) -> tuple[Verdict, FakePubSub, dict[str, Any]]:
    pubsub = pubsub or FakePubSub()
    logged: list[dict[str, Any]] = []
    airflow = ScriptedAirflow(answer)
    deliverer = Deliverer(cfg, airflow, pubsub, clock=lambda: NOW, certs=google_certs(),  # type: ignore[arg-type]
                          log=lambda severity, message, **f: logged.append({"severity": severity, **f}))
    verdict = deliverer.handle(message)
    [line] = logged
    if verdict.outcome == "dead_lettered" and line["error"] not in ("dag_not_found", "airflow_rejected",
                                                                      "retry_budget_exhausted"):
        assert airflow.triggers == []  # refused before Airflow was asked
    return verdict, pubsub, line


HOUR = 3600.0


@pytest.mark.parametrize("answer, message, outcome, ack, topic", [
    (Outcome("queued", 200), pushed(), "queued", True, None),
    (Outcome("duplicate", 409), pushed(), "duplicate", True, None),
    (DagNotFound("no DAG", airflow_status=404), pushed(), "dead_lettered", True, DEAD),
    (AirflowRejected("422", airflow_status=422), pushed(), "dead_lettered", True, DEAD),
    (AirflowRejected("400", airflow_status=400), pushed(), "dead_lettered", True, DEAD),
    (AirflowServerError("500", airflow_status=500), pushed(), "retry", False, None),
    (AirflowServerError("429", airflow_status=429), pushed(), "retry", False, None),
    (AirflowUnavailable("refused"), pushed(), "retry", False, None),
    (AirflowAuthError("401", airflow_status=401), pushed(), "retry", False, None),
    (AirflowAuthError("403", airflow_status=403), pushed(), "retry", False, None),
    # no API at the URL (no answer about this run): a configuration to fix, not a bad message
    (AirflowRejected("no /api/v2/version"), pushed(), "retry", False, None),
    # close to maxDeliveryAttempts (10): a fresh copy instead of a dead letter
    (AirflowUnavailable("refused"), pushed(attempt=8), "retry", False, None),
    (AirflowUnavailable("refused"), pushed(attempt=9), "renewed", True, TOPIC),
    (AirflowUnavailable("refused"), pushed(age=79), "retry", False, None),
    (AirflowUnavailable("refused"), pushed(age=80), "renewed", True, TOPIC),
    # the budget counts from acceptance, across renewals...
    (AirflowUnavailable("refused"), pushed(accepted_age=72 * HOUR + 1), "dead_lettered", True, DEAD),
    # ...and starts again after a redrive
    (AirflowUnavailable("refused"), pushed(accepted_age=100 * HOUR, attributes={
        "airhook_redriven_at": rfc3339(NOW - HOUR)}), "retry", False, None),
    (Outcome("queued", 200), pushed(data=b"{}"), "dead_lettered", True, DEAD),
    # a future redrive time (the attribute is not signed) does not stretch the budget
    (AirflowUnavailable("refused"), pushed(accepted_age=72 * HOUR + 1, attributes={
        "airhook_redriven_at": rfc3339(NOW + 100 * HOUR)}), "dead_lettered", True, DEAD),
])
def test_deliver_decisions(answer: Any, message: Pushed, outcome: str, ack: bool, topic: str | None) -> None:
    verdict, pubsub, line = deliver(answer, message)
    assert verdict == Verdict(ack, outcome)
    assert [t for t, _ in pubsub.published] == ([topic] if topic else [])
    assert line["outcome"] == outcome and line["component"] == "deliver"
    assert line["severity"] == {"queued": "INFO", "duplicate": "INFO", "retry": "WARNING",
                                "renewed": "WARNING", "dead_lettered": "ERROR"}[outcome]


def test_a_dead_letter_carries_the_reason_and_the_same_data() -> None:
    message = pushed(attributes={"airhook_delivery_id": "d-1", "airhook_renewals": "2",
                                 "CloudPubSubDeadLetterSourceDeliveryCount": "5"})
    verdict, pubsub, line = deliver(DagNotFound("DAG 'deploy': not found", airflow_status=404), message)
    [(_, [letter])] = pubsub.published
    assert letter.data == message.data
    assert letter.attributes == {
        SIGNATURE_ATTRIBUTE: message.attributes[SIGNATURE_ATTRIBUTE],
        "airhook_delivery_id": "d-1", "airhook_renewals": "2", "airhook_error": "dag_not_found",
        "airhook_reason": "DAG 'deploy': not found", "airhook_airflow_status": "404",
        "airhook_dead_lettered_at": rfc3339(NOW), "airhook_message_id": "m-1",
        "airhook_subscription": "projects/p/subscriptions/s"}
    assert line["dead_letter_id"] == "100" and line["airflow_status"] == 404


def test_a_renewal_counts_and_keeps_the_data() -> None:
    message = pushed(attempt=9, attributes={"airhook_delivery_id": "d-1", "airhook_renewals": "4"})
    verdict, pubsub, line = deliver(AirflowServerError("503", airflow_status=503), message)
    [(_, [copy])] = pubsub.published
    assert copy.data == message.data
    assert copy.attributes == {"airhook_delivery_id": "d-1", "airhook_renewals": "5",
                               SIGNATURE_ATTRIBUTE: message.attributes[SIGNATURE_ATTRIBUTE]}
    assert line["renewed_as"] == "100"


@pytest.mark.parametrize("answer", [DagNotFound("x", airflow_status=404),
                                    AirflowUnavailable("refused")])
def test_a_message_is_never_acked_unless_stored(answer: AirflowError) -> None:
    """Dead-lettering or renewing needs a publish; when that fails, the message is retried."""
    verdict, _, line = deliver(answer, pushed(attempt=9), pubsub=FakePubSub(QueueUnavailable("down")))
    assert verdict == Verdict(False, "retry")
    assert line["severity"] in ("ERROR", "WARNING")


def test_without_a_dead_letter_topic_permanent_failures_are_retried() -> None:
    direct = parse(None)
    verdict, pubsub, line = deliver(DagNotFound("x", airflow_status=404), pushed(), cfg=direct)
    assert verdict == Verdict(False, "retry") and pubsub.published == []
    assert "dead_letter_topic" in line["dead_letter"]


def test_a_bug_is_retried_not_acked() -> None:
    verdict, _, line = deliver(KeyError("boom"), pushed())
    assert verdict == Verdict(False, "internal_error")
    assert line["severity"] == "ERROR" and line["reason"] == "unexpected KeyError"


def test_the_breaker_stops_calling_a_failing_airflow_for_a_while() -> None:
    clock = [0.0]
    airflow = ScriptedAirflow(AirflowUnavailable("read timeout"))
    deliverer = Deliverer(CONFIG, airflow, FakePubSub(), clock=lambda: NOW, certs=google_certs(),  # type: ignore[arg-type]
                          log=lambda *a, **f: None, breaker=Breaker(3, 5.0, clock=lambda: clock[0]))
    assert [deliverer.handle(pushed()) for _ in range(5)] == [Verdict(False, "retry")] * 5
    assert len(airflow.triggers) == 3  # the 4th and 5th were answered without calling Airflow
    clock[0] = 5.0
    airflow.answer = Outcome("queued", 200)
    assert deliverer.handle(pushed()) == Verdict(True, "queued")  # the probe, and it worked
    assert deliverer.handle(pushed()) == Verdict(True, "queued")
    assert len(airflow.triggers) == 5


def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = [0.0]
    breaker = Breaker(2, 5.0, clock=lambda: clock[0])
    breaker.failed(), breaker.failed()
    clock[0] = 5.0
    breaker.check()  # the probe goes through...
    with pytest.raises(AirflowUnavailable):
        breaker.check()  # ...alone
    breaker.failed()
    clock[0] = 9.9
    with pytest.raises(AirflowUnavailable, match="the last 3 calls failed"):
        breaker.check()


@pytest.mark.parametrize("status, expected", [
    (None, False), (400, True), (404, True), (413, True), (422, True), (401, False), (403, False),
    (408, False), (429, False), (500, False), (503, False)])
def test_permanent(status: int | None, expected: bool) -> None:
    assert permanent(AirflowError("x", airflow_status=status)) is expected


RAW_DATA = {"message": {"@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage",
                        "data": base64.b64encode(b"{}").decode(), "attributes": {"a": "1"},
                        "messageId": "42", "publishTime": "2025-06-15T15:06:40.5Z"}}


def test_pushed_from_the_converted_raw_push_and_from_eventarc() -> None:
    one = Pushed.from_event(RAW_DATA, delivery_attempt=3)
    two = Pushed.from_event({"message": {"data": RAW_DATA["message"]["data"], "message_id": "42",
                                         "attributes": {"a": "1"}}, "subscription": "projects/p/subscriptions/s"},
                            event_id="42", event_time="2025-06-15T15:06:40.5Z")
    assert one == Pushed("42", b"{}", {"a": "1"}, 1750000000.5, 3, None)
    assert two == Pushed("42", b"{}", {"a": "1"}, 1750000000.5, None, "projects/p/subscriptions/s")


def test_an_event_without_a_message_is_dead_lettered_as_it_came() -> None:
    pubsub = FakePubSub()
    logged: list[dict[str, Any]] = []
    deliverer = Deliverer(CONFIG, ScriptedAirflow(Outcome("queued", 200)), pubsub, certs=google_certs(), clock=lambda: NOW,  # type: ignore[arg-type]
                          log=lambda severity, message, **f: logged.append(f))
    assert deliverer.handle_event({"unexpected": True}, event_id="e-1", authorization=TOKEN) == Verdict(True, "dead_lettered")
    assert deliverer.handle_event({"unexpected": True}, event_id="e-2") == Verdict(True, "dead_lettered")
    [(_, [letter]), (_, [anonymous])] = pubsub.published
    assert json.loads(letter.data) == {"unexpected": True}
    assert letter.attributes["airhook_error"] == "malformed_event"
    assert anonymous.attributes["airhook_error"] == "unauthenticated_push"


def test_deliver_event_answers_503_to_retry_and_reads_the_delivery_attempt() -> None:
    airflow = ScriptedAirflow(AirflowUnavailable("refused"))
    pubsub = FakePubSub()
    deliverer = Deliverer(CONFIG, airflow, pubsub, clock=lambda: NOW, log=lambda *a, **f: None,  # type: ignore[arg-type]
                          certs=google_certs())
    data = json.loads(json.dumps(RAW_DATA))
    message = Envelope.for_trigger(trigger(), delivery(), NOW).to_message(KEY.encode())
    data["message"]["data"] = base64.b64encode(message.data).decode()
    data["message"]["attributes"] = dict(message.attributes)
    event = CloudEvent({"id": "42", "source": "//pubsub.googleapis.com/",
                        "type": "google.cloud.pubsub.topic.v1.messagePublished"}, data)
    app = flask.Flask(__name__)
    for attempt, renewed in ((1, False), (9, True)):
        push = {**data, "subscription": "projects/p/subscriptions/s", "deliveryAttempt": attempt}
        with app.test_request_context("/", method="POST", json=push, headers={"Authorization": TOKEN}):
            if renewed:
                assert deliver_event(deliverer, event) is None  # 2xx: acknowledged
            else:
                with pytest.raises(werkzeug.exceptions.ServiceUnavailable):
                    deliver_event(deliverer, event)
    assert [t for t, _ in pubsub.published] == [TOPIC]


# ------------------------------------------------------------------------------------ redrive


class FakeSubscription:
    """A pull subscription holding ``messages``; records what happens to them."""

    def __init__(self, messages: list[Received]) -> None:
        self.held = list(messages)
        self.waiting = list(messages)
        self.acked: list[str] = []
        self.released: list[str] = []
        self.published: list[tuple[str, list[Message]]] = []

    def pull(self, subscription: str, max_messages: int = 100, **_: Any) -> list[Received]:
        batch, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return batch

    def acknowledge(self, subscription: str, ack_ids: Sequence[str], **_: Any) -> None:
        self.acked.extend(ack_ids)

    def release(self, subscription: str, ack_ids: Sequence[str], **_: Any) -> None:
        self.released.extend(ack_ids)
        by_id = {m.ack_id: m for m in self.held}
        self.waiting.extend(by_id[a] for a in ack_ids)

    def publish(self, topic: str, messages: Sequence[Message], **_: Any) -> list[str]:
        self.published.append((topic, list(messages)))
        return [str(i) for i in range(len(messages))]


def letter(n: int, error: str, key: str | None = KEY) -> Received:
    data = b"data-%d" % n
    return Received(f"ack-{n}", f"m-{n}", data, {
        "airhook_delivery_id": f"d-{n}", "airhook_error": error, "airhook_reason": "why",
        "airhook_redrives": "1", "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        **({SIGNATURE_ATTRIBUTE: signed(data, key)} if key else {})})


KEYS = (KEY.encode(), OLD_KEY.encode())


def test_redrive_moves_matching_dead_letters_and_leaves_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    letters = [letter(1, "dag_not_found"), letter(2, "airflow_rejected"), letter(3, "dag_not_found")]
    subscription = FakeSubscription(letters)
    summary = redrive(subscription, "projects/p/subscriptions/dead", TOPIC, error="dag_not_found",  # type: ignore[arg-type]
                      clock=lambda: NOW, keys=KEYS)
    assert (summary.redriven, summary.skipped) == (2, 1)
    assert subscription.acked == ["ack-1", "ack-3"]
    assert "ack-2" in subscription.released and "ack-2" not in subscription.acked
    [(topic, moved)] = subscription.published
    assert topic == TOPIC and [m.data for m in moved] == [b"data-1", b"data-3"]
    assert moved[0].attributes == {"airhook_delivery_id": "d-1", "airhook_redrives": "2",
                                   "airhook_redriven_at": rfc3339(NOW),
                                   SIGNATURE_ATTRIBUTE: letters[0].attributes[SIGNATURE_ATTRIBUTE]}
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_redrive_dry_run_moves_nothing() -> None:
    letters = [letter(1, "dag_not_found")]
    subscription = FakeSubscription(letters)
    summary = redrive(subscription, "s", TOPIC, dry_run=True, keys=KEYS)  # type: ignore[arg-type]
    assert summary.redriven == 0 and subscription.published == [] and subscription.acked == []
    assert subscription.released


@pytest.mark.parametrize("key, refused", [
    (None, "unsigned_message"), (ROGUE_KEY, "bad_message_signature"), (OLD_KEY, None), (KEY, None)])
def test_redrive_moves_only_messages_signed_with_a_current_key(
        key: str | None, refused: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    """A forged dead letter (a POST to deliver is dead-lettered as it came) stays where it is."""
    subscription = FakeSubscription([letter(1, "unauthenticated_push", key=key)])
    summary = redrive(subscription, "s", TOPIC, keys=KEYS, clock=lambda: NOW)  # type: ignore[arg-type]
    [line] = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    if refused:
        assert (summary.redriven, summary.refused) == (0, 1)
        assert subscription.published == [] and subscription.acked == []
        assert line["refused"].startswith(refused)
    else:
        assert (summary.redriven, summary.refused) == (1, 0) and subscription.acked == ["ack-1"]
        assert "refused" not in line


def test_redrive_without_a_key_refuses_to_start(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from airhook.redrive import main
    for name in ("AIRHOOK_SIGNING_KEY", "AIRHOOK_SIGNING_KEY_PREVIOUS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["--subscription", "projects/p/subscriptions/d", "--topic", TOPIC])
    assert exit_.value.code == 2 and "no signing key" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ what deliver refuses


def forged(**changes: Any) -> Envelope:
    """The envelope receive would publish for the ``deploy`` route, with ``changes``."""
    base = Envelope.for_trigger(trigger(), delivery(), NOW)
    return Envelope(**{**base.__dict__, **changes})


#: Every check deliver makes before it triggers anything: (push, error code, reason).
REFUSALS = [
    # the push's OIDC token
    (pushed(authorization=None), "unauthenticated_push", "missing Authorization header"),
    (pushed(authorization="Basic dXNlcjpwYXNz"), "unauthenticated_push", "not 'Bearer <token>'"),
    (pushed(authorization="Bearer not-a-jwt"), "unauthenticated_push", "not a JWT"),
    (pushed(authorization=push_token(NOT_GOOGLE)), "unauthenticated_push", "ID token rejected"),
    (pushed(authorization=push_token(aud="https://elsewhere.example/")), "unauthenticated_push",
     "audience is not a configured audience"),
    (pushed(authorization=push_token(email="someone@p.iam.gserviceaccount.com")), "unauthenticated_push",
     "is not an allowed service account"),
    (pushed(authorization=push_token(email_verified=False)), "unauthenticated_push", "not verified"),
    (pushed(authorization=push_token(iss="https://evil.example")), "unauthenticated_push", "issuer"),
    (pushed(authorization=push_token(iat=int(NOW) - 7200, exp=int(NOW) - 3600)), "unauthenticated_push",
     "expired"),
    (pushed(authorization=TOKEN.rsplit(".", 1)[0] + ".SIGNATURE_REMOVED_BY_GOOGLE"), "unauthenticated_push",
     "removed by Cloud Run's IAM check"),
    # the message's signature
    (pushed(key=None), "unsigned_message", "no airhook_signature attribute"),
    (pushed(key=ROGUE_KEY), "bad_message_signature", "matches no signing key"),
    (pushed(attributes={SIGNATURE_ATTRIBUTE: "v1=" + "A" * 44}, key=None), "bad_message_signature",
     "matches no signing key"),
    # signed, but not something receive would have published
    (pushed(envelope=forged(dag_id="admin_cleanup")), "route_mismatch",
     "route 'deploy' is for source 'github' and DAG 'deploy'"),
    (pushed(envelope=forged(route="no-such-route")), "unknown_route", "no route named 'no-such-route'"),
    (pushed(envelope=forged(source="stripe")), "route_mismatch", "not what the message names"),
    (pushed(envelope=forged(dag_id=None, asset="s3://bucket/key")), "route_mismatch", "not what the message names"),
    (pushed(envelope=forged(dag_id="..")), "malformed_message", "dag_id: not a valid Airflow DAG id"),
    (pushed(envelope=forged(dag_id=".")), "malformed_message", "dag_id: not a valid Airflow DAG id"),
    (pushed(envelope=forged(accepted_at=NOW + 3600)), "accepted_in_future", "3600 s in the future"),
]


@pytest.mark.parametrize("message, error, reason", REFUSALS)
def test_deliver_dead_letters_what_it_cannot_trust_and_triggers_nothing(
        message: Pushed, error: str, reason: str) -> None:
    verdict, pubsub, line = deliver(Outcome("queued", 200), message)
    assert verdict == Verdict(True, "dead_lettered")
    [(topic, [letter])] = pubsub.published
    assert topic == DEAD and letter.data == message.data
    assert letter.attributes["airhook_error"] == error == line["error"]
    assert reason in letter.attributes["airhook_reason"]
    assert line["severity"] == "ERROR"
    assert "eyJ" not in json.dumps(line) + json.dumps(letter.attributes)  # the token is never logged


@pytest.mark.parametrize("message", [
    pushed(),                                                   # signed with the current key
    pushed(key=OLD_KEY),                                        # rotation: the previous key still verifies
    pushed(envelope=forged(accepted_at=NOW + 60)),              # clocks a minute apart
    pushed(authorization=push_token(iat=int(NOW) + 5)),         # within the token's clock skew
])
def test_deliver_triggers_what_it_can_trust(message: Pushed) -> None:
    verdict, pubsub, _ = deliver(Outcome("queued", 200), message)
    assert verdict == Verdict(True, "queued") and pubsub.published == []


def test_googles_certificates_out_of_reach_is_an_outage_not_a_dead_letter() -> None:
    def down(url: str, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
        raise OSError("unreachable")

    airflow = ScriptedAirflow(Outcome("queued", 200))
    logged: list[dict[str, Any]] = []
    deliverer = Deliverer(CONFIG, airflow, FakePubSub(), clock=lambda: NOW,  # type: ignore[arg-type]
                          certs=CertCache("https://certs.invalid/", down),
                          log=lambda severity, message, **f: logged.append(f))
    assert deliverer.handle(pushed()) == Verdict(False, "retry")
    assert airflow.triggers == [] and logged[0]["error"] == "verification_unavailable"


def test_a_direct_post_to_deliver_is_dead_lettered_without_triggering() -> None:
    """The issue's case: a Pub/Sub-shaped envelope POSTed with no credential, naming a DAG no
    route names, a chosen run id and conf."""
    doc = {"v": 1, "kind": "dag_run", "route": "deploy", "dag_id": "drop_all_tables",
           "dag_run_id": "attacker", "conf": {"x": 1}, "note": None, "source": "github",
           "event": "push", "delivery_id": "x", "accepted_at": rfc3339(NOW + 10 * 365 * 86400)}
    data = {"message": {"data": base64.b64encode(json.dumps(doc).encode()).decode(), "messageId": "1"}}
    airflow = ScriptedAirflow(Outcome("queued", 200))
    pubsub = FakePubSub()
    deliverer = Deliverer(CONFIG, airflow, pubsub, clock=lambda: NOW, certs=google_certs(),  # type: ignore[arg-type]
                          log=lambda *a, **f: None)
    app = flask.Flask(__name__)
    event = CloudEvent({"id": "1", "source": "//pubsub.googleapis.com/",
                        "type": "google.cloud.pubsub.topic.v1.messagePublished"}, data)
    with app.test_request_context("/", method="POST", json=data):
        assert deliver_event(deliverer, event) is None  # acknowledged: dead-lettered
    assert airflow.triggers == []
    [(topic, [letter])] = pubsub.published
    assert (topic, letter.attributes["airhook_error"]) == (DEAD, "unauthenticated_push")


def test_a_receive_only_instance_cannot_deliver() -> None:
    receive_only = config.parse({**BASE, "delivery": QUEUE}, {"AIRHOOK_ROLE": "receive"})
    with pytest.raises(ConfigError, match="AIRHOOK_ROLE=receive"):
        Deliverer(receive_only, ScriptedAirflow(Outcome("queued", 200)), FakePubSub())  # type: ignore[arg-type]
