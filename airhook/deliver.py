"""``deliver``: trigger one queued run in Airflow and decide what becomes of its Pub/Sub message.

Nothing in a push is trusted until checked (docs/durable-mode.md, "Authentication"): the push's
OIDC token (audience and service account, in code, whatever Cloud Run's IAM let through), the
data's signature (a key only ``receive``, ``deliver`` and ``redrive`` hold), the envelope's shape,
its ``accepted_at`` (not in the future: the retry budget counts from it), and its (route, DAG) pair
against the routes file. A message that fails any check is dead-lettered with the reason and never
triggers anything.

Every message ends in one of four ways:

- **ack**: Airflow created the run, or already had it (409: a redelivery or a sender's retry).
- **dead letter, then ack**: Airflow refused this very run for good (unknown DAG or asset, 400,
  422, ...) or the message is not one of ours. ``deliver`` publishes it to the dead-letter topic with
  the reason in its attributes and acknowledges it, so it neither blocks nor burns retries.
- **retry**: Airflow is down, answers 5xx or 429, or refuses airhook's credentials. The answer is a
  503 and Pub/Sub redelivers with backoff; nothing is dropped.
- **renew**: the same, but the message is close to the subscription's ``maxDeliveryAttempts``.
  ``deliver`` publishes a fresh copy (a new attempt count, the same run id) and acknowledges the
  old one, so a long outage never moves healthy runs to the dead-letter topic. Past
  ``delivery.retry_hours`` from acceptance the run is dead-lettered instead, for ``redrive``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import logs
from .airflow.client import AirflowClient, Triggerer
from .config import Config
from .envelope import Envelope, MalformedEnvelope, parse_timestamp, rfc3339, verify
from .errors import (
    AirflowAuthError,
    AirflowError,
    AirflowServerError,
    AirflowUnavailable,
    BadSignature,
    ConfigError,
    QueueUnavailable,
    RunRefused,
    VerificationError,
    VerificationUnavailable,
)
from .pubsub import Message, PubSub, attribute
from .senders.google_oidc import CertCache, bearer_token, verify_id_token

#: Attributes that describe one failure; a renewal or a redrive drops them. Pub/Sub's own
#: dead-lettering adds the CloudPubSubDeadLetter* ones.
FAILURE_ATTRIBUTES = ("airhook_error", "airhook_reason", "airhook_airflow_status",
                      "airhook_dead_lettered_at", "airhook_message_id", "airhook_subscription")
PUBSUB_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
#: How far ``receive``'s clock may run ahead of ``deliver``'s. An ``accepted_at`` (or a
#: ``airhook_redriven_at``) later than this is refused: the retry budget counts from it, so a
#: future one would make it endless.
MAX_CLOCK_SKEW = 300.0


def permanent(error: AirflowError) -> bool:
    """True when no retry can change the answer about this very run, so the message goes to the
    dead-letter topic now instead of being retried for the whole outage budget.

    Permanent: Airflow answered about this run with a 4xx (the DAG or asset does not exist, 400,
    413, 422...), or airhook refused to send it (RunRefused: a conf no Airflow can store, a path
    MWAA cannot carry). Retried: no answer, 5xx, 408, 429, refused credentials (401/403, a redirect
    to a sign-in page) and no REST API at the URL: credentials, roles and URLs get fixed.
    """
    if isinstance(error, RunRefused):
        return True
    if isinstance(error, (AirflowUnavailable, AirflowServerError, AirflowAuthError)):
        return False
    status = error.airflow_status
    return status is not None and 400 <= status < 500 and status not in (401, 403, 408, 429)


class Breaker:
    """Stops calling an Airflow that keeps failing, for a few seconds at a time.

    After ``threshold`` failures in a row (no answer, 5xx, 429) calls are refused at once with
    AirflowUnavailable for ``pause`` seconds; then one call goes through as a probe, and a success
    closes the breaker. Why: during an outage where Airflow hangs rather than refuses, every push
    would hold one of the instance's few slots (deliver_concurrency) for the whole Airflow timeout,
    Cloud Run would answer the rest with 429 before deliver sees them, and those 429s count toward
    maxDeliveryAttempts without deliver ever getting the chance to renew the message. An overloaded
    Airflow answering 5xx/429 also gets a breather instead of the same load again.
    """

    def __init__(self, threshold: int = 3, pause: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.pause = pause
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raises AirflowUnavailable while open; lets one probe through when the pause is over."""
        with self._lock:
            now = self._clock()
            if now < self._open_until:
                raise AirflowUnavailable(
                    f"not calling Airflow for {self._open_until - now:.1f} s more: the last "
                    f"{self._failures} calls failed")
            if self._failures >= self.threshold:
                self._open_until = now + self.pause  # this call is the probe; the others wait

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._open_until = self._clock() + self.pause

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = 0.0


@dataclass(frozen=True)
class Pushed:
    """One message as a push subscription (or Eventarc) hands it to ``deliver``."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: epoch seconds Pub/Sub stored this copy of the message
    publish_time: float | None = None
    #: Pub/Sub's count, when the push carries it (push subscriptions with a dead-letter policy)
    delivery_attempt: int | None = None
    subscription: str | None = None
    #: the push request's ``Authorization`` header (Pub/Sub's OIDC token)
    authorization: str | None = field(default=None, repr=False)

    @classmethod
    def from_event(cls, data: Any, *, event_id: str = "", event_time: str | None = None,
                   delivery_attempt: Any = None, authorization: str | None = None) -> Pushed:
        """From a CloudEvent's data, ``{"message": {"data", "attributes", "messageId",
        "publishTime"}, "subscription"}`` (functions-framework's conversion of a raw push, and
        Eventarc's ``google.cloud.pubsub.topic.v1.messagePublished``).

        Raises:
            MalformedEnvelope: the event carries no Pub/Sub message.
        """
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise MalformedEnvelope("the event carries no Pub/Sub message")
        try:
            raw = base64.b64decode(message.get("data") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise MalformedEnvelope("message data is not base64") from None
        attributes = message.get("attributes") or {}
        when = message.get("publishTime") or event_time
        try:
            published = parse_timestamp(when) if isinstance(when, str) and when else None
        except ValueError:
            published = None
        subscription = data.get("subscription")
        return cls(
            message_id=str(message.get("messageId") or message.get("message_id") or event_id),
            data=raw,
            attributes={str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, dict) else {},
            publish_time=published,
            delivery_attempt=delivery_attempt if isinstance(delivery_attempt, int)
            and not isinstance(delivery_attempt, bool) else None,
            subscription=subscription if isinstance(subscription, str) else None,
            authorization=authorization)


@dataclass(frozen=True)
class Verdict:
    """``ack``: the message is done with (answer 2xx); otherwise Pub/Sub must redeliver it."""

    ack: bool
    outcome: str


class Deliverer:
    """One per instance: the config, the Airflow client and the Pub/Sub client (for the
    dead-letter topic and renewals)."""

    def __init__(self, config: Config, client: Triggerer | None = None,
                 pubsub: PubSub | None = None, *, clock: Callable[[], float] = time.time,
                 log: Callable[..., None] = logs.emit, breaker: Breaker | None = None,
                 certs: CertCache | None = None) -> None:
        if config.role == "receive":
            raise ConfigError("AIRHOOK_ROLE=receive: this instance holds no Airflow credentials and "
                              "does not deliver")
        self.config = config
        self.delivery = config.delivery
        self.client = client if client is not None else AirflowClient(config.airflow)
        self.pubsub = pubsub if pubsub is not None else PubSub(timeout=config.delivery.publish_timeout)
        self.clock = clock
        self.log = log
        self._outage_log = logs.Throttle(60.0)
        self.breaker = breaker if breaker is not None else Breaker()
        push = config.delivery.push
        self.certs = certs if certs is not None or push is None else CertCache(push.certs_url)
        #: route name -> route: a message's (route, DAG) pair must be one of these
        self.routes = {route.name: route for route in config.routes}

    # -------------------------------------------------------------------------------- entry

    def handle(self, pushed: Pushed) -> Verdict:
        """Trigger the message's run and say whether to acknowledge the message. Never raises."""
        started = time.monotonic()
        record: dict[str, Any] = {"message_id": pushed.message_id,
                                  "delivery_attempt": pushed.delivery_attempt}
        try:
            verdict = self._handle(pushed, record)
        except Exception as exc:  # a bug: retry (Pub/Sub's own dead-letter policy is the backstop)
            record.update(error="internal_error", reason=f"unexpected {type(exc).__name__}")
            verdict = Verdict(False, "internal_error")
        self._log(verdict, record, started)
        return verdict

    def handle_event(self, data: Any, *, event_id: str = "", event_time: str | None = None,
                     delivery_attempt: Any = None, authorization: str | None = None) -> Verdict:
        """:meth:`handle` for a CloudEvent's data. An event without a Pub/Sub message in it (a
        misconfigured trigger) is dead-lettered as it came, rather than retried forever."""
        try:
            pushed = Pushed.from_event(data, event_id=event_id, event_time=event_time,
                                       delivery_attempt=delivery_attempt, authorization=authorization)
        except MalformedEnvelope as exc:
            raw = json.dumps(data, default=str)[:1_000_000].encode("utf-8")
            started = time.monotonic()
            record: dict[str, Any] = {"message_id": event_id}
            code, reason = "malformed_event", str(exc)
            try:
                self._authenticate(Pushed(event_id, b"", authorization=authorization), self.clock())
            except VerificationUnavailable:
                pass  # it is dead-lettered either way; the shape is the surer reason
            except VerificationError as refused:
                code, reason = "unauthenticated_push", refused.detail  # say who sent it first
            verdict = self._dead_letter(Pushed(event_id, raw), code, reason, None, record)
            self._log(verdict, record, started)
            return verdict
        return self.handle(pushed)

    def _handle(self, pushed: Pushed, record: dict[str, Any]) -> Verdict:
        now = self.clock()
        try:
            self._authenticate(pushed, now)
        except VerificationUnavailable as exc:  # Google's certificates out of reach: an outage
            record.update(error=exc.code, reason=exc.detail)
            return Verdict(False, "retry")
        except VerificationError as exc:
            return self._dead_letter(pushed, "unauthenticated_push", exc.detail, None, record)
        try:
            verify(pushed.data, pushed.attributes, self.delivery.signing_keys)
            envelope = Envelope.from_data(pushed.data)
        except MalformedEnvelope as exc:
            return self._dead_letter(pushed, exc.code, str(exc), None, record)
        record.update(envelope.describe())
        refused = self._refusal(envelope, now)
        if refused is not None:
            return self._dead_letter(pushed, *refused, None, record)
        try:
            self.breaker.check()
            try:
                outcome = self.client.trigger(envelope.trigger())
            except (AirflowUnavailable, AirflowServerError):
                self.breaker.failed()
                raise
            except AirflowError:
                self.breaker.succeeded()  # it answered about this run: it is up
                raise
            self.breaker.succeeded()
        except AirflowError as exc:
            record["airflow_status"] = exc.airflow_status
            if permanent(exc):
                return self._dead_letter(pushed, exc.code, exc.detail, exc.airflow_status, record)
            return self._transient(pushed, envelope, exc, now, record)
        finally:
            # Time from acceptance to the run existing (or to this failed attempt).
            record["age_s"] = round(self.clock() - envelope.accepted_at, 3)
        record["airflow_status"] = outcome.airflow_status
        return Verdict(True, outcome.status)

    # -------------------------------------------------------------------------------- checks

    def _authenticate(self, pushed: Pushed, now: float) -> None:
        """The push's ID token: Google-signed, for ``delivery.push.audience``, from one of
        ``delivery.push.service_accounts``.

        Raises:
            VerificationError: no token, or one that fails a check.
            VerificationUnavailable: Google's certificates cannot be fetched.
        """
        push = self.delivery.push
        if push is None or self.certs is None:
            raise BadSignature("delivery.push is not configured: no push can be authenticated")
        token = bearer_token(pushed.authorization)
        if token.endswith(".SIGNATURE_REMOVED_BY_GOOGLE"):
            # Cloud Run removes the signature of a token its own IAM check consumed.
            raise BadSignature("the push token's signature was removed by Cloud Run's IAM check: "
                               "deliver verifies the token itself, so its invoker is not IAM-checked "
                               "(docs/durable-mode.md, Authentication)")
        verify_id_token(token, self.certs, push.audiences, push.service_accounts, now, push.clock_skew)

    def _refusal(self, envelope: Envelope, now: float) -> tuple[str, str] | None:
        """Why a signed envelope must still not run, as (code, reason), or None."""
        if envelope.accepted_at > now + MAX_CLOCK_SKEW:
            return ("accepted_in_future",
                    f"accepted_at is {envelope.accepted_at - now:.0f} s in the future")
        route = self.routes.get(envelope.route)
        if route is None:
            return "unknown_route", f"no route named {envelope.route[:64]!r} in the routes file"
        if (route.source, route.dag_id, route.asset) != (envelope.source, envelope.dag_id, envelope.asset):
            target = f"asset {route.asset!r}" if route.asset is not None else f"DAG {route.dag_id!r}"
            return ("route_mismatch", f"route {route.name!r} is for source {route.source!r} and "
                    f"{target}, not what the message names")
        return None

    # -------------------------------------------------------------------------------- failures

    def _transient(self, pushed: Pushed, envelope: Envelope, error: AirflowError, now: float,
                   record: dict[str, Any]) -> Verdict:
        record["error"] = error.code
        if self._outage_log.allow(error.code):  # the same cause for every message: once a minute
            record["reason"] = error.detail
        budget_start = max(envelope.accepted_at, _redriven_at(pushed.attributes, now))
        if now - budget_start > self.delivery.retry_hours * 3600:
            return self._dead_letter(
                pushed, "retry_budget_exhausted",
                f"still failing after {self.delivery.retry_hours:g} h: {error.code}: {error.detail}",
                error.airflow_status, record)
        if self._renewal_due(pushed, now):
            return self._renew(pushed, record)
        return Verdict(False, "retry")

    def _renewal_due(self, pushed: Pushed, now: float) -> bool:
        """Is this message about to exhaust the subscription's ``maxDeliveryAttempts``? Exactly
        known when the push carries ``deliveryAttempt``; otherwise bounded from its age, since
        Pub/Sub waits at least ``minimumBackoff`` between two attempts of one message."""
        attempts = self.delivery.max_delivery_attempts
        if pushed.delivery_attempt is not None:
            return pushed.delivery_attempt >= attempts - 1
        if pushed.publish_time is None:
            return False  # no way to tell: leave it to Pub/Sub's dead-letter policy and redrive
        return now - pushed.publish_time >= (attempts - 2) * self.delivery.minimum_backoff

    def _renew(self, pushed: Pushed, record: dict[str, Any]) -> Verdict:
        topic = self.delivery.topic
        if topic is None:
            record["error"] = "no_topic"
            return Verdict(False, "retry")
        attributes = without_failure(pushed.attributes)
        attributes["airhook_renewals"] = str(_count(pushed.attributes, "airhook_renewals") + 1)
        try:
            record["renewed_as"] = self.pubsub.publish(topic, [Message(pushed.data, attributes)])[0]
        except QueueUnavailable as exc:
            record.update(error=exc.code, reason=exc.detail)
            return Verdict(False, "retry")
        return Verdict(True, "renewed")

    def _dead_letter(self, pushed: Pushed, code: str, reason: str, airflow_status: int | None,
                     record: dict[str, Any]) -> Verdict:
        """Publish the message to the dead-letter topic with why, then acknowledge it. If that
        publish fails the message is retried instead: it is never acknowledged unless stored."""
        record.update(error=code, reason=reason)
        topic = self.delivery.dead_letter_topic
        if topic is None:
            record["dead_letter"] = "delivery.dead_letter_topic is not configured"
            return Verdict(False, "retry")
        attributes = without_failure(pushed.attributes)
        attributes.update({
            "airhook_error": code, "airhook_reason": attribute(reason),
            "airhook_dead_lettered_at": rfc3339(self.clock()),
            "airhook_message_id": attribute(pushed.message_id)})
        if airflow_status is not None:
            attributes["airhook_airflow_status"] = str(airflow_status)
        if pushed.subscription:
            attributes["airhook_subscription"] = attribute(pushed.subscription)
        try:
            record["dead_letter_id"] = self.pubsub.publish(topic, [Message(pushed.data, attributes)])[0]
        except QueueUnavailable as exc:
            record["dead_letter"] = exc.detail
            return Verdict(False, "retry")
        return Verdict(True, "dead_lettered")

    # -------------------------------------------------------------------------------- logging

    def _log(self, verdict: Verdict, record: dict[str, Any], started: float) -> None:
        record["latency_ms"] = round((time.monotonic() - started) * 1000, 2)
        if verdict.outcome in ("dead_lettered", "internal_error") or "dead_letter" in record:
            severity = "ERROR"  # someone must look: a DAG is missing, a request is refused, a bug
        elif verdict.outcome in ("retry", "renewed"):
            severity = "WARNING"
        else:
            severity = "INFO"
        target = record.get("dag_id") or record.get("asset") or "-"
        message = f"deliver {target} {record.get('dag_run_id') or '-'}: {verdict.outcome}"
        self.log(severity, message, component="deliver", outcome=verdict.outcome, ack=verdict.ack,
                 **record)


def without_failure(attributes: Mapping[str, str]) -> dict[str, str]:
    """The attributes minus those describing the last failure (airhook's and Pub/Sub's)."""
    return {k: v for k, v in attributes.items()
            if k not in FAILURE_ATTRIBUTES and not k.startswith(PUBSUB_DEAD_LETTER_PREFIX)}


def _count(attributes: Mapping[str, str], key: str) -> int:
    value = attributes.get(key, "0")
    return int(value) if value.isdigit() else 0


def _redriven_at(attributes: Mapping[str, str], now: float) -> float:
    """When ``redrive`` last republished the message (0 if never): a redriven run gets a whole
    new retry budget, or one more failure would send it straight back. A time in the future is
    ignored: the attribute is not signed, and it would make the budget endless."""
    try:
        redriven = parse_timestamp(attributes["airhook_redriven_at"])
    except (KeyError, ValueError):
        return 0.0
    return redriven if redriven <= now + MAX_CLOCK_SKEW else 0.0



__all__ = ["Breaker", "Deliverer", "FAILURE_ATTRIBUTES", "Pushed", "Verdict", "permanent", "without_failure"]
