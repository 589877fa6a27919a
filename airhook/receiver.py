"""The pipeline for one request: find the source, verify, route, trigger, answer, log.

This module is also the one place where errors become HTTP responses (:func:`error_response`).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from . import logs
from .airflow.client import AirflowClient, Outcome, Triggerer
from .config import Config
from .delivery import Delivery, Inbound
from .errors import (
    AirflowError,
    AirflowUnavailable,
    AirhookError,
    DryRunForbidden,
    MethodNotAllowed,
    PayloadTooLarge,
    QueueUnavailable,
    UnknownSource,
    VerificationError,
)
from .responses import Response, present
from .routing import Trigger, explain, route
from .senders import Source

if TYPE_CHECKING:  # imported when a config enables the queue: direct mode never pays for it
    from .enqueue import Enqueuer

HEALTH_PATH = "_health"
#: A verified delivery with this header is routed but triggers nothing: the answer says what
#: would run and why each route did or did not match (``airhook send --dry-run``).
DRY_RUN_HEADER = "x-airhook-dry-run"
#: ...provided it also carries the deployment's operator token (``$AIRHOOK_OPERATOR_TOKEN``) here.
#: The switch is outside every sender's signature: without the token, anyone who captured one
#: signed request could replay it as a dry run and read the routes and the conf they build.
OPERATOR_TOKEN_HEADER = "x-airhook-operator-token"
#: The shortest operator token accepted: it is a password for reading routes and conf.
MIN_OPERATOR_TOKEN = 16

BodyReader = Callable[[int], bytes]


def _dry_run_requested(headers: Mapping[str, str], query: str) -> bool:
    """The ``X-Airhook-Dry-Run`` header, or ``?dry_run`` for senders that cannot add headers.

    Any value asks for a dry run (``on``, ``t``, an empty ``?dry_run``, even ``0``): a spelling that
    was not recognised used to trigger the very run the operator meant to preview. A dry run that
    was not meant costs a 403 (or, with the operator token, a preview); a missed one costs a run."""
    if DRY_RUN_HEADER in headers:
        return True
    return "dry_run" in query and "dry_run" in parse_qs(query, keep_blank_values=True)


def error_response(error: AirhookError, extra: Mapping[str, Any] | None = None) -> Response:
    """The public answer to ``error``: its status, code and short message; never its detail."""
    body: dict[str, Any] = {"error": error.code, "message": error.public}
    if extra:
        body.update(extra)
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = "POST"
    return Response(error.status, body, headers)


def _severity(status: int) -> str:
    # Configuration problems (unknown DAG, refused credentials) are 502s: ERROR like outages.
    if status >= 500:
        return "ERROR"
    if status >= 400:
        return "WARNING"
    return "INFO"


class Receiver:
    """One per instance: the config, the Airflow client and the clock."""

    def __init__(self, config: Config, client: Triggerer | None = None, *,
                 clock: Callable[[], float] = time.time, log: Callable[..., None] = logs.emit,
                 enqueuer: Enqueuer | None = None, operator_token: str | None = None) -> None:
        """``operator_token`` enables dry runs for requests that present it (None: no dry runs)."""
        self.config = config
        self._operator_token = operator_token.encode("utf-8") if operator_token else None
        self.client: Triggerer = client if client is not None else AirflowClient(config.airflow)
        self.clock = clock
        self.log = log
        self._outage_log = logs.Throttle(60.0)
        # Queue mode: runs wait in Pub/Sub and `deliver` triggers them (docs/durable-mode.md).
        if enqueuer is None and config.delivery.mode == "queue":
            from .enqueue import Enqueuer
            enqueuer = Enqueuer(config.delivery)
        self.enqueuer = enqueuer

    # -------------------------------------------------------------------------------- entry

    def handle(self, method: str, path: str, headers: Mapping[str, str], read_body: BodyReader,
               query: str = "", url: str = "") -> Response:
        """Answer one request. ``headers`` must be lower-cased; ``read_body(limit)`` returns the
        raw body or raises PayloadTooLarge. Never raises."""
        started = time.monotonic()
        record: dict[str, Any] = {"source": None, "event": None, "delivery_id": None}
        seen: dict[str, Any] = {}  # the source and the verified delivery, once known
        error: AirhookError | None = None
        name = path.strip("/")
        if name == HEALTH_PATH and method in ("GET", "HEAD"):
            return Response(200, {"status": "ok"})  # touches nothing downstream; not logged
        try:
            response = self._handle(method, name, headers, read_body, query, url, record, seen, started)
        except AirhookError as exc:
            error = exc
            response = error_response(exc, {k: record[k] for k in ("delivery_id", "runs") if record.get(k)})
        except Exception as exc:  # a bug: answer without a trace, log the type only
            record["outcome"] = "internal_error"
            record["reason"] = f"unexpected {type(exc).__name__}"
            response = Response(500, {"error": "internal_error", "message": "internal error"})
        source = seen.get("source")
        if source is not None:
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            try:
                response = present(response, sender=source.type, disclosure=self.config.disclosure(source.name),
                                   delivery=seen.get("delivery"), outcome=record.get("outcome"),
                                   content_type=content_type)
            except Exception as exc:  # a bug: the answer as built is still better than a raise
                record["reason"] = f"presenting the answer raised {type(exc).__name__}"
        self._log(response, error, record, method, started)
        return response

    def _handle(self, method: str, name: str, headers: Mapping[str, str], read_body: BodyReader,
                query: str, url: str, record: dict[str, Any], seen: dict[str, Any],
                started: float) -> Response:
        if method != "POST":
            raise MethodNotAllowed(f"method {method}")
        source = self.config.sources.get(name)
        if source is None:
            raise UnknownSource(f"no source at /{name[:64]}")
        record["source"] = source.name
        seen["source"] = source
        length = headers.get("content-length")
        # isascii and the length cap: str.isdigit() accepts '²' and int() refuses 4,301 digits.
        if length and length.isascii() and length.isdigit() and (
                len(length) > 18 or int(length) > source.max_body_bytes):
            # Refuse before reading a byte of it.
            raise PayloadTooLarge(f"Content-Length {length} > {source.max_body_bytes}")
        body = read_body(source.max_body_bytes)
        # The operator token is a credential: no sender signs it and no route may see it.
        routable = ({k: v for k, v in headers.items() if k != OPERATOR_TOKEN_HEADER}
                    if OPERATOR_TOKEN_HEADER in headers else headers)
        inbound = Inbound(method=method, path="/" + name, headers=routable, body=body, query=query, url=url)
        delivery = self._verify(source, inbound)
        record.update(event=delivery.event, delivery_id=delivery.delivery_id)
        seen["delivery"] = delivery
        if delivery.reply is not None:
            record["outcome"] = "handshake"
            return Response(200, {"delivery_id": delivery.delivery_id, "event": delivery.event, **delivery.reply})
        if _dry_run_requested(headers, query):
            self._check_operator(headers)
            record["outcome"] = "dry_run"
            return Response(200, self._dry_run(delivery))
        triggers = route(self.config.routes_for(source.name), delivery)
        record["routes"] = [t.route for t in triggers]
        record["dag_run_ids"] = [t.dag_run_id for t in triggers]
        if not triggers:
            record["outcome"] = "no_route"
            return Response(200, self._summary(delivery, []))
        if self.enqueuer is not None:
            return self._enqueue(self.enqueuer, delivery, triggers, record)
        runs = self._trigger_all(triggers, record, started + self.config.deadline(source.name))
        record["runs"] = runs
        statuses = {run["status"] for run in runs}
        record["outcome"] = "duplicate" if statuses == {"duplicate"} else "queued"
        return Response(200, self._summary(delivery, runs))

    # -------------------------------------------------------------------------------- stages

    def _check_operator(self, headers: Mapping[str, str]) -> None:
        """A dry run is for operators: refused (403, nothing triggered) unless the request presents
        the operator token. Refused rather than ignored, so that an operator whose token is wrong
        does not trigger the run they meant to preview."""
        if self._operator_token is None:
            raise DryRunForbidden("dry run requested; no operator token is configured")
        presented = headers.get(OPERATOR_TOKEN_HEADER, "").encode("utf-8", "surrogatepass")
        # compare_digest on bytes: constant time, and header text is attacker-controlled.
        if not hmac.compare_digest(presented, self._operator_token):
            raise DryRunForbidden("dry run requested without the operator token" if not presented
                                  else "dry run requested with a wrong operator token")

    def _verify(self, source: Source, inbound: Inbound) -> Delivery:
        try:
            return source.verify(inbound, self.clock())
        except AirhookError:
            raise
        except Exception as exc:
            # An unexpected failure inside a verifier is still a 401 with the same public body.
            raise VerificationError(f"verifier raised {type(exc).__name__}") from None

    def _trigger_all(self, triggers: list[Trigger], record: dict[str, Any],
                     deadline: float) -> list[dict[str, Any]]:
        """Trigger every matched route. If one fails, the others are still attempted (a retry
        brings the succeeded ones back as duplicates), except after an outage, which would only
        make the sender wait for every timeout in turn."""
        runs: list[dict[str, Any]] = []
        failure: AirflowError | None = None
        for trigger in triggers:
            run = trigger.describe()
            if isinstance(failure, AirflowUnavailable):
                run["status"] = "not_attempted"
            else:
                try:
                    outcome: Outcome = self.client.trigger(trigger, deadline)
                    run["status"] = outcome.status
                    if outcome.dag_paused:  # created, but waits until someone unpauses the DAG
                        run["dag_paused"] = True
                    record["airflow_status"] = outcome.airflow_status
                except AirflowError as exc:
                    run["status"] = "failed"
                    record["airflow_status"] = exc.airflow_status
                    # The most retry-worthy failure decides the answer: 503 beats 502.
                    if failure is None or exc.status > failure.status:
                        failure = exc
            runs.append(run)
        if failure is not None:
            record["runs"] = runs
            raise failure
        return runs

    @staticmethod
    def _enqueue(enqueuer: Enqueuer, delivery: Delivery, triggers: list[Trigger],
                 record: dict[str, Any]) -> Response:
        """Queue mode: 202 once Pub/Sub holds one message per run, with the run ids ``deliver``
        will use; 503 (the sender retries) when it does not."""
        try:
            record["message_ids"] = enqueuer.enqueue(delivery, triggers)
        except QueueUnavailable:
            record["outcome"] = "queue_unavailable"
            raise
        runs = [{**t.describe(), "status": "accepted"} for t in triggers]
        record["runs"] = runs
        record["outcome"] = "accepted"
        return Response(202, Receiver._summary(delivery, runs))

    def _dry_run(self, delivery: Delivery) -> dict[str, Any]:
        routes = []
        for decision, trigger in explain(self.config.routes_for(delivery.source), delivery):
            entry: dict[str, Any] = {"route": decision.route, "matched": decision.matched,
                                     "reason": decision.reason}
            if trigger is not None:
                entry.update(trigger.describe(), conf=trigger.conf)
            routes.append(entry)
        return {"dry_run": True, "delivery_id": delivery.delivery_id, "source": delivery.source,
                "event": delivery.event, "routes": routes}

    @staticmethod
    def _summary(delivery: Delivery, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"delivery_id": delivery.delivery_id, "source": delivery.source,
                "event": delivery.event, "runs": runs}

    # -------------------------------------------------------------------------------- logging

    def _log(self, response: Response, error: AirhookError | None, record: dict[str, Any],
             method: str, started: float) -> None:
        latency_ms = round((time.monotonic() - started) * 1000, 2)
        if error is not None:
            record.setdefault("outcome", "airflow_unavailable" if response.status == 503 else
                              "airflow_error" if isinstance(error, AirflowError) else "rejected")
            record["error"] = error.code
            # During an outage every delivery fails alike: give the cause once a minute.
            outage = isinstance(error, (AirflowUnavailable, QueueUnavailable))
            if not outage or self._outage_log.allow(error.code):
                record["reason"] = error.detail
        runs = record.pop("runs", None)
        if runs is not None:
            record["run_statuses"] = [r["status"] for r in runs]
        message = (f"{record.get('source') or '-'} {record.get('event') or '-'} "
                   f"{record.get('delivery_id') or '-'}: {response.status} {record.get('outcome')}")
        self.log(_severity(response.status), message, status=response.status,
                 latency_ms=latency_ms, method=method, **record)
