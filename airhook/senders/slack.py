"""Slack: ``X-Slack-Signature: v0=<hex>``, HMAC-SHA256 of ``"v0:{X-Slack-Request-Timestamp}:{body}"``
keyed with the app's signing secret.

One URL can serve the Events API (JSON), slash commands (a form) and interactivity (a form whose
``payload`` field is JSON). Slack's handshakes are answered without triggering anything:
``url_verification`` (echo ``challenge``) and ``ssl_check=1``.

https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import FORM_TYPE, field_text, flat_form, parse_form, parse_json, parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MalformedRequest, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option, tolerance_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, hex_candidate
from .timestamps import check_window, parse_unix_timestamp

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
_PREFIX = "v0="
#: Signature headers: never visible to routes (authorization, cookies... are dropped for every type).
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER, TIMESTAMP_HEADER)


def sign(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Slack would send (for tests and the CLI)."""
    mac = hmac.new(secret, f"v0:{timestamp}:".encode("ascii") + body, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: _PREFIX + mac, TIMESTAMP_HEADER: str(timestamp)}


def verify_signature(body: bytes, signature: str | None, timestamp: str | None,
                     secrets: Sequence[bytes], now: float, tolerance: float) -> None:
    """Check Slack's headers against the raw ``body``; the timestamp first.

    Raises:
        MissingSignature: either header missing.
        TimestampOutOfWindow: the timestamp is more than ``tolerance`` seconds from ``now``.
        BadSignature: a malformed header, or no secret matches.
    """
    if not signature:
        raise MissingSignature("missing X-Slack-Signature header")
    seconds = parse_unix_timestamp(timestamp, "X-Slack-Request-Timestamp")
    check_window(seconds, now, tolerance, "X-Slack-Request-Timestamp")
    if not signature.startswith(_PREFIX):
        raise BadSignature("X-Slack-Signature does not start with v0=")
    candidate = hex_candidate(signature[len(_PREFIX):], 32)
    if candidate is None:
        raise BadSignature("X-Slack-Signature is not a 64-digit hex digest")
    assert timestamp is not None  # parse_unix_timestamp refused None
    if not any_hmac_matches(secrets, f"v0:{timestamp}:".encode("ascii") + body, [candidate]):
        raise BadSignature("no secret matches X-Slack-Signature")


def _read(inbound: Inbound) -> tuple[Any, dict[str, Any]]:
    """``(body, extra)``: JSON as is; a form with a ``payload`` field is an interactivity payload
    (its JSON is the body); any other form (a slash command) is its fields, also under ``form``."""
    if inbound.content_type != FORM_TYPE:
        return _without_token(parse_json_body(inbound)), {}
    form = _without_token(flat_form(parse_form(inbound.body)))
    payload = form.get("payload")
    if isinstance(payload, str) and "command" not in form:
        return _without_token(parse_json(payload)), {}
    return form, {"form": form}


def _without_token(body: Any) -> Any:
    # Slack still sends its deprecated verification token in bodies: a credential, which routes
    # must not be able to copy into a DAG run's conf.
    if isinstance(body, dict) and "token" in body:
        return {key: value for key, value in body.items() if key != "token"}
    return body


def event_name(body: Any) -> str:
    """``event.type`` for Events API callbacks, the slash ``command``, else the top ``type``
    (``url_verification``, ``block_actions``, ``view_submission``, ...).

    Raises:
        MalformedRequest: none of them.
    """
    inner = field_text(body, "event", "type")
    if inner is not None and field_text(body, "type") == "event_callback":
        return inner
    for key in ("command", "type"):
        value = field_text(body, key)
        if value is not None:
            return value
    if field_text(body, "ssl_check") == "1":
        return "ssl_check"
    raise MalformedRequest("Slack body has no event type, command or type",
                           public="body has no Slack event type")


@dataclass(frozen=True)
class SlackSource(SecretSource):
    tolerance: int = 300
    type: str = "slack"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Raises:
            VerificationError: unsigned, badly signed or out of the window (401).
            MalformedRequest: a body Slack would not send (400).
            UnsupportedMediaType: neither JSON nor a form (415).
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER),
                         inbound.header(TIMESTAMP_HEADER), self.secrets, now, self.tolerance)
        body, extra = _read(inbound)
        event = event_name(body)
        # Slack retries (X-Slack-Retry-Num) carry the same event_id: one run per event. Commands
        # and interactions have no id, but each carries a unique trigger_id, so the body hash is
        # one per invocation and the same across retries.
        ident = delivery_id(field_text(body, "event_id"), inbound.body)
        reply: dict[str, Any] | None = None
        if event == "url_verification":
            challenge = field_text(body, "challenge")
            if challenge is None:
                raise MalformedRequest("url_verification without challenge",
                                       public="url_verification without challenge")
            reply = {"challenge": challenge}
        elif event == "ssl_check":
            reply = {}
        return Delivery(source=self.name, event=event, delivery_id=ident, body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS), reply=reply,
                        extra=extra)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> SlackSource:
    check_keys(raw, ("secrets", "tolerance", "max_body_bytes"), where)
    return SlackSource(
        name=name,
        secrets=secrets_option(raw, where),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    """A slash command (form), an Events API callback or another JSON payload, as Slack sends it."""
    if c.body.kind == "form":
        if c.draft.event:
            c.body.set("command", c.draft.event, "event")
        if c.body.get("trigger_id") is not None:
            # Each invocation carries a new trigger_id, and the body hash is its delivery id.
            trigger = c.draft.delivery_id or c.random_id("slack-trigger")
            c.body.set("trigger_id", trigger, "trigger id")
            c.redeliver = trigger
    elif isinstance(c.body.json, dict) and c.body.json.get("type") == "event_callback":
        if c.draft.event:
            c.body.set("event.type", c.draft.event, "event")
        c.body.set("event_id", c.identify(c.fresh("slack")), "delivery id")
        c.body.set("event_time", int(c.now), "event time")
    elif c.draft.event:
        c.body.set("type", c.draft.event, "event")
    c.headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
    c.headers.update(sign(c.need_key(), c.body.bytes(), int(c.now)))


SENDER = SenderType(
    type="slack", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    deadline=2.5,  # Slack waits 3 s
    examples=(
        Example("app-mention", "app-mention.json", "an Events API app_mention"),
        Example("slash-command", "slash-command.txt", "the /deploy slash command (a form)", content_type=FORM_TYPE),
        Example("url-verification", "url-verification.json", "the handshake Slack sends for a new Request URL"),
    ))
