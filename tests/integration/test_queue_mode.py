"""The durable mode end to end: the real Pub/Sub emulator, both functions under the real
functions-framework server, and a real Airflow 3 on PostgreSQL.

    sender --signed POST--> receive (queue mode) --signed message--> emulator topic
        --push--> [ack-losing proxy + the push's OIDC token] --> deliver --POST dagRuns--> Airflow 3
                                             \\--> dead-letter topic (pull subscription)

Each function runs with its own role (``AIRHOOK_ROLE``) and only its own secrets: receive has no
Airflow credentials, deliver no webhook secret. The emulator sends no OIDC token, so the proxy
adds one as Pub/Sub would, signed with a test key whose certificate is served on loopback.

The runs go to ``billing_sync``, paused for this module: Airflow creates each run (state
``queued``) without executing it, so hundreds of runs cost the shared Airflow nothing, and the
module deletes its runs and unpauses the DAG when it ends.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from airhook.delivery import Delivery
from airhook.envelope import SIGNATURE_ATTRIBUTE, Envelope, rfc3339
from airhook.envelope import sign as sign_message
from airhook.routing import Trigger
from airhook.senders.github import sign
from tests.conftest import payload
from tests.pubsub_push import PUSH_ACCOUNT, PUSH_AUDIENCE, SIGNING_KEY, PushIdentity, PushProxy
from tools.function_server import FunctionServer
from tools.local_airflow import AirflowServer
from tools.pubsub_emulator import PubSubEmulator

ROOT = Path(__file__).resolve().parents[2]
SECRET = "queue-webhook-secret"
DAG = "billing_sync"
PUSH_BODY = json.loads(payload("push", "with-new-branch.payload.json"))
RELEASE = payload("release", "published.payload.json")
#: The emulator redelivers a failed push about once a second (no retryPolicy): deliver is told a
#: shorter minimum so its renewal stays well clear of the dead-letter policy's 10 attempts.
MAX_ATTEMPTS = 10

CONFIG = """
airflow:
  url: ${AIRFLOW_URL}
  api: v2
  auth: {type: airflow-jwt, username: ${AIRFLOW_USER}, password: ${AIRFLOW_PASSWORD}}
  timeout: 8
sources:
  github:
    type: github
    secrets: ["${GITHUB_WEBHOOK_SECRET}"]
routes:
  - name: sync
    source: github
    events: [push]
    dag_id: billing_sync
    conf: {sha: body.after, seq: body.seq}
  - name: missing
    source: github
    events: [release]
    dag_id: no_such_dag
delivery:
  mode: queue
  topic: ${AIRHOOK_TOPIC}
  dead_letter_topic: ${AIRHOOK_DEAD_LETTER_TOPIC}
  publish_timeout: ${PUBLISH_TIMEOUT:-5}
  retry_hours: ${RETRY_HOURS:-72}
  max_delivery_attempts: 10
  minimum_backoff: 0.5
  signing_keys: ["${AIRHOOK_SIGNING_KEY}", "${AIRHOOK_SIGNING_KEY_PREVIOUS:-}"]
  push:
    audience: ${AIRHOOK_PUSH_AUDIENCE}
    service_accounts: ["${AIRHOOK_PUSH_SERVICE_ACCOUNT}"]
    certs_url: ${PUSH_CERTS_URL}
"""


# ------------------------------------------------------------------------------------ harness


class AckLosingProxy(PushProxy):
    """Sits between the push subscription and ``deliver``, adding the push's OIDC token as Pub/Sub
    does. For the delivery ids in ``lose`` it answers 500 to the first push of each message *after*
    deliver has handled it: the run exists, but Pub/Sub believes the push failed and redelivers the
    message, as when an ack is lost."""

    def __init__(self, target: str, identity: PushIdentity) -> None:
        self.lose: set[str] = set()
        self.pushes: Counter[str] = Counter()  # per delivery id
        self.lost: set[str] = set()  # message ids whose first answer was replaced
        self._lock = threading.Lock()
        super().__init__(target, identity, self._answer)

    def _answer(self, body: bytes, status: int) -> int:
        message = json.loads(body).get("message", {})
        delivery_id = message.get("attributes", {}).get("airhook_delivery_id", "")
        with self._lock:
            self.pushes[delivery_id] += 1
            if (status < 300 and delivery_id in self.lose
                    and message.get("messageId") not in self.lost):
                self.lost.add(message.get("messageId"))
                return 500
        return status


class Stack:
    """Everything one module needs, with helpers to send and to look."""

    def __init__(self, emulator: PubSubEmulator, airflow: AirflowServer) -> None:
        self.emulator = emulator
        self.airflow = airflow
        prefix = f"q{uuid.uuid4().hex[:8]}"
        self.prefix = prefix
        self.topic = emulator.create_topic(f"{prefix}-deliveries")
        self.dead_letter_topic = emulator.create_topic(f"{prefix}-dead-letter")
        self.dead_letters = emulator.create_pull_subscription(f"{prefix}-dead-letter", self.dead_letter_topic)
        self.identity = PushIdentity()
        self.env = {
            "AIRHOOK_SIGNING_KEY": SIGNING_KEY, "AIRHOOK_PUSH_AUDIENCE": PUSH_AUDIENCE,
            "AIRHOOK_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT, "PUSH_CERTS_URL": self.identity.certs_url,
            "AIRFLOW_URL": airflow.url, "AIRFLOW_USER": airflow.username,
            "AIRFLOW_PASSWORD": airflow.password, "GITHUB_WEBHOOK_SECRET": SECRET,
            "AIRHOOK_TOPIC": self.topic, "AIRHOOK_DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "PUBSUB_EMULATOR_HOST": emulator.host,
            # deliver's per-instance concurrency (Cloud Functions: deliver_concurrency): at most
            # this many triggers reach Airflow at once.
            "THREADS": "4"}
        # Least privilege: each function gets only what its role reads.
        self.deliver_env = {**without(self.env, "GITHUB_WEBHOOK_SECRET"), "AIRHOOK_ROLE": "deliver"}
        receive_env = {**without(self.env, "AIRFLOW_URL", "AIRFLOW_USER", "AIRFLOW_PASSWORD",
                                 "AIRHOOK_PUSH_AUDIENCE", "AIRHOOK_PUSH_SERVICE_ACCOUNT", "PUSH_CERTS_URL"),
                       "AIRHOOK_ROLE": "receive", "THREADS": "8"}
        self.deliver = FunctionServer(CONFIG, self.deliver_env, target="deliver").start()
        self.receive = FunctionServer(CONFIG, receive_env).start()
        self.proxy = AckLosingProxy(self.deliver.url + "/", self.identity)
        self.push = emulator.create_push_subscription(
            f"{prefix}-deliver", self.topic, self.proxy.url,
            dead_letter_topic=self.dead_letter_topic, max_delivery_attempts=MAX_ATTEMPTS,
            ack_deadline=60)
        self.dead: list[dict[str, Any]] = []  # every dead letter seen so far

    def close(self) -> None:
        try:
            self.emulator.delete_subscription(self.push)  # no pushes into a stopping server
        finally:
            self.proxy.stop()
            self.identity.stop()
            self.receive.stop()
            self.deliver.stop()

    # ---- sending

    def delivery_ids(self, n: int, tag: str) -> list[str]:
        return [f"{self.prefix}-{tag}-{i}" for i in range(n)]

    def send(self, delivery_id: str, *, event: str = "push", body: bytes | None = None,
             url: str | None = None) -> requests.Response:
        if body is None:
            body = json.dumps({**PUSH_BODY, "after": sha(delivery_id), "seq": delivery_id}).encode()
        return requests.post(f"{url or self.receive.url}/github", data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id, "X-Hub-Signature-256": sign(SECRET.encode(), body)})

    def send_all(self, delivery_ids: Iterable[str], senders: int = 8) -> list[requests.Response]:
        with ThreadPoolExecutor(max_workers=senders) as pool:
            return list(pool.map(self.send, delivery_ids))

    # ---- looking

    def runs(self, delivery_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = {run_id(d) for d in delivery_ids}
        return {r["dag_run_id"]: r for r in self.airflow.list_dag_runs(DAG) if r["dag_run_id"] in wanted}

    def wait_for_runs(self, delivery_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.runs(delivery_ids)
            if len(found) == len(delivery_ids) or time.monotonic() > deadline:
                return found
            time.sleep(1.0)

    def deliver_lines(self, delivery_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = set(delivery_ids)
        return [line for line in self.deliver.log_lines()
                if line.get("component") == "deliver" and line.get("delivery_id") in ids]

    def collect_dead_letters(self, settle: float = 2.0) -> list[dict[str, Any]]:
        self.dead.extend(self.emulator.drain(self.dead_letters, settle=settle))
        return self.dead


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def run_id(delivery_id: str) -> str:
    return f"airhook__github__sync__{delivery_id}"


def sha(delivery_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, delivery_id).hex + "00000000"


def assert_exactly_once(stack: Stack, delivery_ids: list[str], runs: dict[str, dict[str, Any]]) -> None:
    """Every delivery is one run with its own conf, and deliver created each run once (every
    other push of it found the run there: 409)."""
    assert sorted(runs) == sorted(run_id(d) for d in delivery_ids), (
        f"{len(runs)} of {len(delivery_ids)} runs; missing e.g. "
        f"{sorted(set(map(run_id, delivery_ids)) - set(runs))[:3]}\n{stack.deliver.log_tail()}")
    for delivery_id in delivery_ids:
        assert runs[run_id(delivery_id)]["conf"] == {"sha": sha(delivery_id), "seq": delivery_id}
    created = Counter(line["delivery_id"] for line in stack.deliver_lines(delivery_ids)
                      if line["outcome"] == "queued")
    assert created == Counter(delivery_ids)
    healthy = [m for m in stack.dead if m["attributes"].get("airhook_delivery_id") in set(delivery_ids)]
    assert healthy == []


def delete_runs(airflow: AirflowServer, run_ids: list[str]) -> None:
    def delete(one: str) -> None:
        try:
            airflow.request("DELETE", f"dags/{DAG}/dagRuns/{one}")
        except OSError:
            pass
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(delete, run_ids))


@pytest.fixture(scope="module")
def stack(pubsub_emulator: PubSubEmulator, airflow3: AirflowServer) -> Iterator[Stack]:
    assert airflow3.request("PATCH", f"dags/{DAG}", {"is_paused": True}).status == 200
    created: Stack | None = None
    try:
        created = Stack(pubsub_emulator, airflow3)
        yield created
        logs = created.receive.log_text() + created.deliver.log_text()
        assert SECRET not in logs and airflow3.password not in logs
    finally:
        if created is not None:
            created.close()
        prefix = created.prefix if created is not None else "-"
        delete_runs(airflow3, [r["dag_run_id"] for r in airflow3.list_dag_runs(DAG)
                               if f"__{prefix}-" in r["dag_run_id"]])
        airflow3.request("PATCH", f"dags/{DAG}", {"is_paused": False})


# ------------------------------------------------------------------------------------ tests


def test_deliveries_during_an_airflow_outage_all_become_one_run(stack: Stack) -> None:
    """Airflow is down for longer than the subscription's 10 delivery attempts last: every
    delivery is still answered 202, nothing reaches the dead-letter topic (deliver renews the
    messages), and once Airflow is back every delivery is exactly one run with its conf."""
    ids = stack.delivery_ids(20, "outage")
    stack.airflow.stop_api()
    try:
        responses = stack.send_all(ids)
        assert [r.status_code for r in responses] == [202] * len(ids), responses[0].text
        assert responses[0].json()["runs"] == [
            {"route": "sync", "dag_id": DAG, "dag_run_id": run_id(ids[0]), "status": "accepted"}]
        # Hold the outage until some message has outlived the dead-letter policy's attempts.
        deadline = time.monotonic() + 60
        while not any(l["outcome"] == "renewed" for l in stack.deliver_lines(ids)):
            assert time.monotonic() < deadline, stack.deliver.log_tail()
            time.sleep(0.5)
        time.sleep(MAX_ATTEMPTS * 1.0)
    finally:
        stack.airflow.start_api()
    runs = stack.wait_for_runs(ids, timeout=120)
    stack.collect_dead_letters()
    assert_exactly_once(stack, ids, runs)
    outcomes = Counter(l["outcome"] for l in stack.deliver_lines(ids))
    assert outcomes["retry"] > 0 and outcomes["renewed"] > 0


def test_sender_and_pubsub_redeliveries_still_give_one_run_each(stack: Stack) -> None:
    ids = stack.delivery_ids(30, "redeliver")
    stack.proxy.lose.update(ids[::2])  # Pub/Sub redelivers these after deliver created the run
    responses = stack.send_all(ids)
    again = stack.send_all(ids[:10])  # the sender redelivers these (same delivery ids)
    assert {r.status_code for r in responses + again} == {202}
    assert [r.json()["runs"][0]["dag_run_id"] for r in again] == [run_id(d) for d in ids[:10]]
    runs = stack.wait_for_runs(ids, timeout=60)
    deadline = time.monotonic() + 30  # the redeliveries of lost acks arrive about 1 s later
    while any(stack.proxy.pushes[d] < 2 for d in ids[::2]) and time.monotonic() < deadline:
        time.sleep(0.5)
    stack.collect_dead_letters()
    assert_exactly_once(stack, ids, runs)
    assert all(stack.proxy.pushes[d] >= 2 for d in ids[::2] + ids[:10])
    duplicates = Counter(l["delivery_id"] for l in stack.deliver_lines(ids) if l["outcome"] == "duplicate")
    assert set(ids[::2]) | set(ids[:10]) <= set(duplicates)


def test_a_route_to_a_missing_dag_is_dead_lettered_and_holds_nothing_up(stack: Stack) -> None:
    [bad] = stack.delivery_ids(1, "nodag")
    ids = stack.delivery_ids(10, "beside-nodag")
    with ThreadPoolExecutor(max_workers=4) as pool:
        rejected = pool.submit(stack.send, bad, event="release", body=RELEASE)
        responses = stack.send_all(ids)
    assert rejected.result().status_code == 202
    assert {r.status_code for r in responses} == {202}
    runs = stack.wait_for_runs(ids, timeout=30)
    deadline = time.monotonic() + 30
    while not [m for m in stack.collect_dead_letters(0.5) if m["attributes"].get("airhook_delivery_id") == bad]:
        assert time.monotonic() < deadline, stack.deliver.log_tail()
    [letter] = [m for m in stack.dead if m["attributes"].get("airhook_delivery_id") == bad]
    attributes = letter["attributes"]
    assert attributes["airhook_error"] == "dag_not_found"
    assert attributes["airhook_airflow_status"] == "404"
    assert "no_such_dag" in attributes["airhook_reason"]
    assert attributes["airhook_dag_run_id"] == f"airhook__github__missing__{bad}"
    assert not any(k.startswith("CloudPubSubDeadLetter") for k in attributes)  # deliver's, not Pub/Sub's
    assert json.loads(letter["data"])["dag_id"] == "no_such_dag"
    assert SECRET.encode() not in letter["data"]
    assert_exactly_once(stack, ids, runs)
    [line] = [l for l in stack.deliver_lines([bad])]
    assert line["severity"] == "ERROR" and line["outcome"] == "dead_lettered"


def test_redrive_republishes_dead_letters_once_fixed(stack: Stack) -> None:
    """A deliver that cannot reach Airflow (a wrong URL: connection refused) dead-letters its
    runs once the retry budget is spent; after the fix, ``python -m airhook.redrive`` moves them
    back to the deliveries topic and they become runs."""
    emulator = stack.emulator
    broken_topic = emulator.create_topic(f"{stack.prefix}-broken")
    broken_dead = emulator.create_topic(f"{stack.prefix}-broken-dead")
    broken_dead_pull = emulator.create_pull_subscription(f"{stack.prefix}-broken-dead", broken_dead)
    env = {**stack.deliver_env, "AIRFLOW_URL": "http://127.0.0.1:9", "AIRHOOK_TOPIC": broken_topic,
           "AIRHOOK_DEAD_LETTER_TOPIC": broken_dead, "RETRY_HOURS": "0.0005"}  # 1.8 s
    ids = stack.delivery_ids(3, "redrive")
    with FunctionServer(CONFIG, env, target="deliver") as broken:
        proxy = AckLosingProxy(broken.url + "/", stack.identity)
        push = emulator.create_push_subscription(f"{stack.prefix}-broken", broken_topic, proxy.url)
        for delivery_id in ids:
            delivery = Delivery(source="github", event="push", delivery_id=delivery_id, body={})
            trigger = Trigger(route="sync", dag_id=DAG, dag_run_id=run_id(delivery_id),
                              conf={"sha": sha(delivery_id), "seq": delivery_id}, note="redrive test")
            message = Envelope.for_trigger(trigger, delivery, time.time()).to_message(SIGNING_KEY.encode())
            emulator.publish(broken_topic, message.data, message.attributes)
        deadline = time.monotonic() + 60
        while Counter(l["outcome"] for l in broken.log_lines())["dead_lettered"] < len(ids):
            assert time.monotonic() < deadline, broken.log_tail()
            time.sleep(0.5)
        emulator.delete_subscription(push)
        proxy.stop()
    reasons = {l["delivery_id"]: l["error"] for l in broken.log_lines() if l.get("outcome") == "dead_lettered"}
    assert reasons == {d: "retry_budget_exhausted" for d in ids}
    assert stack.runs(ids) == {}

    command = [sys.executable, "-m", "airhook.redrive", "--subscription", broken_dead_pull,
               "--topic", stack.topic, "--error", "retry_budget_exhausted"]
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PUBSUB_EMULATOR_HOST": emulator.host,
                                                  "AIRHOOK_SIGNING_KEY": SIGNING_KEY},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1])["redriven"] == len(ids)
    moved = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(m["airhook_delivery_id"] for m in moved) == sorted(ids)
    runs = stack.wait_for_runs(ids, timeout=60)
    stack.collect_dead_letters()
    assert_exactly_once(stack, ids, runs)
    assert emulator.pull(broken_dead_pull) == []  # acknowledged, not left behind


def forged_push(stack: Stack, delivery_id: str, *, key: str | None, dag_id: str = DAG,
                accepted_at: float | None = None) -> bytes:
    """A Pub/Sub push body naming a run of the attacker's choosing (run id and conf)."""
    data = json.dumps({
        "v": 1, "kind": "dag_run", "route": "sync", "dag_id": dag_id, "dag_run_id": run_id(delivery_id),
        "conf": {"chosen": "by the attacker"}, "note": None, "source": "github", "event": "push",
        "delivery_id": delivery_id, "accepted_at": rfc3339(accepted_at or time.time())}).encode()
    attributes = {"airhook_delivery_id": delivery_id}
    if key is not None:
        attributes[SIGNATURE_ATTRIBUTE] = sign_message(data, key.encode())
    return json.dumps({"message": {"data": base64.b64encode(data).decode(),
                                   "attributes": attributes, "messageId": f"forged-{delivery_id}"},
                       "subscription": "projects/airhook-test/subscriptions/forged"}).encode()


def test_a_forged_push_to_deliver_never_becomes_a_run(stack: Stack) -> None:
    """Issue 12.2: a Pub/Sub-shaped POST to deliver naming a DAG, a run id and a conf. Whatever
    it lacks (the push's token, the message signature, a (route, DAG) pair the routes file has, a
    plausible acceptance time), it is dead-lettered with the reason and Airflow never sees it."""
    ids = stack.delivery_ids(6, "forged")
    cases = [  # (body, Authorization, expected airhook_error)
        (forged_push(stack, ids[0], key=None), None, "unauthenticated_push"),
        (forged_push(stack, ids[1], key=SIGNING_KEY), stack.identity.authorization(aud="https://other.example/"),
         "unauthenticated_push"),
        (forged_push(stack, ids[2], key=None), stack.identity.authorization(), "unsigned_message"),
        (forged_push(stack, ids[3], key="not-the-key-" + "y" * 32), stack.identity.authorization(),
         "bad_message_signature"),
        (forged_push(stack, ids[4], key=SIGNING_KEY, dag_id="no_such_dag"), stack.identity.authorization(),
         "route_mismatch"),
        (forged_push(stack, ids[5], key=SIGNING_KEY, accepted_at=time.time() + 365 * 86400),
         stack.identity.authorization(), "accepted_in_future"),
    ]
    for body, authorization, _ in cases:
        headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
        response = requests.post(stack.deliver.url + "/", data=body, headers=headers, timeout=30)
        assert response.status_code < 300, response.text  # acknowledged: dead-lettered, not retried
    deadline = time.monotonic() + 30
    while len({m["attributes"].get("airhook_delivery_id") for m in stack.collect_dead_letters(0.5)} & set(ids)) < 6:
        assert time.monotonic() < deadline, stack.deliver.log_tail()
    errors = {m["attributes"]["airhook_delivery_id"]: m["attributes"]["airhook_error"]
              for m in stack.dead if m["attributes"].get("airhook_delivery_id") in set(ids)}
    assert errors == {d: error for d, (_, _, error) in zip(ids, cases)}
    assert stack.runs(ids) == {}  # on the real Airflow: no run of any of them
    assert not [r for r in stack.airflow.list_dag_runs(DAG) if r.get("conf", {}).get("chosen")]
    lines = stack.deliver_lines(ids[4:])  # (the others never got as far as naming a run)
    assert [(l["outcome"], l["severity"]) for l in lines] == [("dead_lettered", "ERROR")] * 2


def test_publish_failure_is_a_503_and_never_a_2xx(stack: Stack) -> None:
    """With the emulator gone, receive cannot store the delivery: it answers 503 with
    Retry-After, within its publish timeout, and never a 2xx."""
    with PubSubEmulator(project="airhook-test") as own:
        topic = own.create_topic("deliveries")
        env = {**stack.env, "PUBSUB_EMULATOR_HOST": own.host, "AIRHOOK_TOPIC": topic,
               "PUBLISH_TIMEOUT": "2"}
        with FunctionServer(CONFIG, env) as receive:
            [first, *rest] = stack.delivery_ids(6, "emulator-down")
            assert stack.send(first, url=receive.url).status_code == 202
            own.stop()
            for delivery_id in rest:
                started = time.monotonic()
                response = stack.send(delivery_id, url=receive.url)
                assert response.status_code == 503, response.text
                assert time.monotonic() - started < 2 + 1.5
                assert response.headers["Retry-After"] == "10"
                assert response.json()["error"] == "queue_unavailable"
            lines = [l for l in receive.log_lines() if l.get("delivery_id") in rest]
            assert {(l["status"], l["outcome"], l["severity"]) for l in lines} == {
                (503, "queue_unavailable", "ERROR")}
            assert sum("reason" in l for l in lines) == 1  # the cause once a minute, not per delivery


def burst(stack: Stack, n: int, timeout: float) -> None:
    ids = stack.delivery_ids(n, f"burst{n}")
    started = time.monotonic()
    responses = stack.send_all(ids, senders=16)
    accepted = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: n}, statuses
    runs = stack.wait_for_runs(ids, timeout=timeout)
    drained = time.monotonic() - started
    stack.collect_dead_letters()
    assert_exactly_once(stack, ids, runs)
    lines = stack.deliver_lines(ids)
    airflow_5xx = sum(1 for l in lines if (l.get("airflow_status") or 0) >= 500)
    print(f"\nburst of {n}: all 202 in {accepted:.1f}s ({n / accepted:.0f}/s), all runs in "
          f"{drained:.1f}s ({n / drained:.0f} runs/s); {len(lines)} pushes, "
          f"{airflow_5xx} Airflow 5xx answers retried")


def test_a_burst_far_above_airflows_pace_drains_to_one_run_each(stack: Stack) -> None:
    burst(stack, 300, timeout=240)


@pytest.mark.slow
def test_a_burst_of_1000_drains_to_one_run_each(stack: Stack) -> None:
    burst(stack, 1000, timeout=600)
