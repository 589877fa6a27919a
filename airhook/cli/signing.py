"""Build a delivery exactly as a sender would: its headers, content type, timestamp, delivery id
and signature, for every sender type airhook verifies.

``send`` posts what :func:`prepare` returns; ``explain`` hands it straight to the source's own
verifier (with a stand-in credential), so the event name and delivery id it shows are the ones the
function would read. The signatures come from each sender module's own ``sign`` helper.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as _random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..delivery import Inbound
from ..senders.common import Locator
from .output import CliError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Draft:
    """What to send: the payload and what the user chose (``None``: as the sender would)."""

    body: bytes
    content_type: str = JSON
    event: str | None = None
    #: ``--redeliver``: reuse this id (or the value the hint printed); None: a fresh one
    delivery_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outbound:
    """A delivery ready to post."""

    url: str
    headers: dict[str, str]
    body: bytes
    #: the delivery id the function will read (a ``sha256-`` body hash when the sender has none)
    delivery_id: str
    #: what ``--redeliver`` takes to send this delivery again; None: the body itself is the id
    redeliver: str | None
    #: the instant it was signed (its verifier accepts it at this time)
    now: float


def random_id(kind: str) -> str:
    """A fresh id in the sender's own format."""
    if kind == "stripe":
        return "evt_" + "".join(_random.choice(_ALNUM) for _ in range(24))
    if kind == "slack":
        return "Ev" + "".join(_random.choice(_UPPER) for _ in range(10))
    if kind == "ulid":
        return "01" + "".join(_random.choice(_UPPER) for _ in range(24))
    if kind == "svix":
        return "msg_" + "".join(_random.choice(_ALNUM) for _ in range(27))
    if kind == "number":
        return str(_random.randbelow(9 * 10 ** 9) + 10 ** 9)
    return str(uuid.uuid4())


def body_hash(body: bytes) -> str:
    """The delivery id the function gives a delivery without one (see senders.common)."""
    return "sha256-" + hashlib.sha256(body).hexdigest()[:32]


class Body:
    """The payload, parsed once when a field has to change (JSON object or form), re-encoded only
    if one did: an untouched payload is sent byte for byte."""

    def __init__(self, raw: bytes, content_type: str) -> None:
        self.raw = raw
        self.content_type = content_type
        self.changed = False
        self._json: Any = None
        self._form: list[tuple[str, str]] | None = None
        media = content_type.split(";", 1)[0].strip().lower()
        self.kind = "form" if media == FORM else "json" if media == JSON or media.endswith("+json") else "raw"
        if self.kind == "json":
            try:
                self._json = json.loads(raw) if raw.strip() else None
            except ValueError:
                raise CliError("the payload is not valid JSON (give --content-type for another format)") from None
        elif self.kind == "form":
            try:
                self._form = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
            except (UnicodeDecodeError, ValueError):
                raise CliError("the payload is not a valid x-www-form-urlencoded form") from None

    @property
    def json(self) -> Any:
        return self._json

    @property
    def form(self) -> list[tuple[str, str]]:
        return list(self._form or [])

    def get(self, path: str) -> Any:
        if self.kind == "form":
            return next((v for k, v in self._form or [] if k == path), None)
        node = self._json
        for key in path.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    def set(self, path: str, value: Any, what: str) -> None:
        """Put ``value`` at the dotted ``path`` (a form field, or nested JSON objects).

        Raises:
            CliError: the payload has no place for it.
        """
        if self.get(path) == value:
            return
        if self.kind == "form":
            fields = [(k, v) for k, v in self._form or [] if k != path]
            self._form = fields + [(path, str(value))]
        else:
            node = self._json
            *parents, last = path.split(".")
            for key in parents:
                if not isinstance(node, dict) or not isinstance(node.get(key, {}), dict):
                    node = None
                    break
                node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise CliError(f"cannot set the {what} at {path!r}: the payload is not a JSON object there")
            node[last] = value
        self.changed = True

    def set_json(self, document: Any) -> None:
        self._json = document
        self.changed = True

    def bytes(self) -> bytes:
        if not self.changed:
            return self.raw
        if self.kind == "form":
            return urlencode(self._form or []).encode("ascii")
        return json.dumps(self._json, ensure_ascii=False, indent=2).encode("utf-8")


@dataclass
class Context:
    """One delivery being built: the source, the payload, and what has been decided so far."""

    source: Any
    draft: Draft
    body: Body
    url: str
    now: float
    key: bytes | None
    id_token: str | None
    headers: dict[str, str] = field(default_factory=dict)
    delivery_id: str | None = None
    redeliver: str | None = None
    query: str = ""

    def fresh(self, kind: str) -> str:
        """The ``--redeliver`` id, else a new one."""
        return self.draft.delivery_id or random_id(kind)

    def identify(self, value: str) -> str:
        self.delivery_id = self.redeliver = value
        return value

    def need_key(self) -> bytes:
        if self.key is None:
            raise CliError(f"source {self.source.name!r} has no secret to sign with")
        return self.key

    def place(self, locator: Locator | None, value: str, what: str) -> bool:
        """Put ``value`` where ``locator`` reads it. False when there is no locator.

        Raises:
            CliError: a constant locator with another value, or a body expression too complex to
                write to.
        """
        if locator is None:
            return False
        if locator.kind == "header":
            self.headers[locator.name] = value
        elif locator.kind == "value":
            if value != locator.name:
                raise CliError(f"source {self.source.name!r} fixes its {what} to {locator.name!r} "
                               f"in the config; it cannot be {value!r}")
        elif _SIMPLE_PATH.match(locator.name):
            self.body.set(locator.name, value, what)
        else:
            raise CliError(f"cannot place the {what} at the expression {locator.name!r}: "
                           "put it in the payload yourself")
        return True

    def iso_now(self) -> str:
        return datetime.fromtimestamp(int(self.now), timezone.utc).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------------ senders


def _github(c: Context) -> None:
    from ..senders import github
    c.headers.update({"X-GitHub-Event": c.draft.event or "push", "User-Agent": "GitHub-Hookshot/airhook",
                      "X-GitHub-Delivery": c.identify(c.fresh("uuid")),
                      "X-GitHub-Hook-ID": "1"})
    body = c.body.bytes()
    c.headers["X-Hub-Signature-256"] = github.sign(c.need_key(), body)


def _stripe(c: Context) -> None:
    from ..senders import stripe
    if c.draft.event:
        c.body.set("type", c.draft.event, "event")
    c.body.set("id", c.identify(c.fresh("stripe")), "delivery id")
    c.headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    c.headers["Stripe-Signature"] = stripe.sign(c.need_key(), c.body.bytes(), int(c.now))


def _slack(c: Context) -> None:
    from ..senders import slack
    if c.body.kind == "form":
        if c.draft.event:
            c.body.set("command", c.draft.event, "event")
        if c.body.get("trigger_id") is not None:
            # Each invocation carries a new trigger_id, and the body hash is its delivery id.
            trigger = c.draft.delivery_id or (f"{_random.randbelow(10**13)}.{_random.randbelow(10**13)}."
                                              f"{_random.token_hex(16)}")
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
    c.headers.update(slack.sign(c.need_key(), c.body.bytes(), int(c.now)))


def _standard_webhooks(c: Context) -> None:
    from ..senders import standard_webhooks as sw
    names = sw.SVIX if c.source.type == "svix" else sw.STANDARD
    if c.draft.event:
        c.place(c.source.event, c.draft.event, "event")
    msg_id = c.identify(c.fresh("svix"))
    c.headers.update({names.id: msg_id, names.timestamp: str(int(c.now))})
    c.headers[names.signature] = sw.sign(c.need_key(), msg_id, int(c.now), c.body.bytes())


def _gitlab(c: Context) -> None:
    from ..senders import standard_webhooks as sw
    ident = c.identify(c.fresh("uuid"))
    c.headers.update({"X-Gitlab-Event": c.draft.event or "Push Hook", "Idempotency-Key": ident,
                      "X-Gitlab-Event-UUID": ident, "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
                      "X-Gitlab-Instance": "https://gitlab.example.com", "User-Agent": "GitLab/17.0.0"})
    if c.source.signing_keys:
        c.headers.update({"webhook-id": ident, "webhook-timestamp": str(int(c.now))})
        c.headers["webhook-signature"] = sw.sign(c.need_key(), ident, int(c.now), c.body.bytes())
    else:
        c.headers["X-Gitlab-Token"] = c.need_key().decode("utf-8")


def _bitbucket(c: Context) -> None:
    from ..senders import bitbucket
    c.headers.update({"X-Event-Key": c.draft.event or "repo:push", "X-Request-UUID": c.identify(c.fresh("uuid")),
                      "X-Hook-UUID": str(uuid.uuid4()), "X-Attempt-Number": "1",
                      "User-Agent": "Bitbucket-Webhooks/2.0"})
    c.headers["X-Hub-Signature"] = bitbucket.sign(c.need_key(), c.body.bytes())


def _jira(c: Context) -> None:
    from ..senders import jira
    if c.draft.event:
        c.body.set("webhookEvent", c.draft.event, "event")
    if isinstance(c.body.json, dict) and "timestamp" in c.body.json:
        c.body.set("timestamp", int(c.now * 1000), "timestamp")
    c.headers["X-Atlassian-Webhook-Identifier"] = c.identify(c.fresh("uuid"))
    c.headers["User-Agent"] = "Atlassian Webhook HTTP Client"
    c.headers["X-Hub-Signature"] = jira.sign(c.need_key(), c.body.bytes())


def _shopify(c: Context) -> None:
    from ..senders import shopify
    topic = c.draft.event or "orders/create"
    # Shopify's events webhooks send each header twice, unprefixed and X-Shopify-* (its library
    # reads the unprefixed form first): so does this, which exercises both readers.
    values = {"Topic": topic, "Webhook-Id": c.identify(c.fresh("uuid")), "Event-Id": str(uuid.uuid4()),
              "API-Version": "2026-10", "Shop-Domain": "example.myshopify.com",
              "Triggered-At": c.iso_now(), "Hmac-SHA256": shopify.sign(c.need_key(), c.body.bytes())}
    for name, value in values.items():
        c.headers["Shopify-" + name] = value
        c.headers["X-Shopify-" + name] = value
    # Shopify signs no id: airhook's delivery id is the hash of the topic and the signed body.
    c.delivery_id = shopify.signed_delivery_id(topic, c.body.bytes())


def _linear(c: Context) -> None:
    from ..senders import linear
    if c.draft.event:
        kind, _, action = c.draft.event.rpartition(".")
        c.body.set("type", kind or action, "event")
        if kind:
            c.body.set("action", action, "event")
    # The replay window is the body's own timestamp: Linear sets it when it sends.
    c.body.set("webhookTimestamp", int(c.now * 1000), "timestamp")
    c.headers["Linear-Delivery"] = c.identify(c.fresh("uuid"))
    kind = c.body.get("type")
    if isinstance(kind, str):
        c.headers["Linear-Event"] = kind
    c.headers["User-Agent"] = "Linear-Webhook"
    c.headers["Linear-Signature"] = linear.sign(c.need_key(), c.body.bytes())


def _pagerduty(c: Context) -> None:
    from ..senders import pagerduty
    if c.draft.event:
        c.body.set("event.event_type", c.draft.event, "event")
    c.body.set("event.id", c.identify(c.fresh("ulid")), "delivery id")
    c.headers["User-Agent"] = "PagerDuty-Webhook/V3.0"
    c.headers["X-Webhook-Id"] = str(uuid.uuid4())
    c.headers["X-PagerDuty-Signature"] = pagerduty.sign([c.need_key()], c.body.bytes())


def _zendesk(c: Context) -> None:
    from ..senders import zendesk
    event_webhook = isinstance(c.body.json, dict) and "type" in c.body.json
    if c.draft.event and c.draft.event != zendesk.DEFAULT_EVENT:
        c.body.set("type", c.draft.event, "event")
        event_webhook = True
    if event_webhook:
        c.body.set("id", c.identify(c.fresh("ulid")), "delivery id")
        c.headers["X-Zendesk-Webhook-Invocation-Id"] = random_id("number")
    else:  # a trigger or automation webhook: its body is the user's, the invocation id identifies it
        c.headers["X-Zendesk-Webhook-Invocation-Id"] = c.identify(c.fresh("number"))
    c.headers["X-Zendesk-Webhook-Id"] = "01" + "".join(_random.choice(_UPPER) for _ in range(24))
    c.headers.update(zendesk.sign(c.need_key(), c.body.bytes(), c.iso_now()))


def _hubspot(c: Context) -> None:
    from ..senders import hubspot
    events = c.body.json
    if isinstance(events, dict):
        events = [events]
    if isinstance(events, list) and all(isinstance(e, dict) for e in events):
        events = [dict(e) for e in events]
        if c.draft.event:
            for event in events:
                event["subscriptionType"] = c.draft.event
        if len(events) == 1:
            given = c.draft.delivery_id or random_id("number")
            events[0]["eventId"] = int(given) if given.isdigit() else given
            events[0]["occurredAt"] = int(c.now * 1000)
            c.identify(given)
        if events != c.body.json:
            c.body.set_json(events)
    c.headers["User-Agent"] = "HubSpot Connect 2.0 (http://dev.hubspot.com/)"
    uri = _with_query(c.source.public_url or c.url, c.query)
    body = c.body.bytes()
    # HubSpot sends v3 on every request, and the legacy v1/v2 signature beside it.
    legacy = [v for v in c.source.versions if v != "v3"]
    if legacy:
        c.headers.update(hubspot.sign_legacy(c.need_key(), legacy[0], "POST", uri, body))
    c.headers.update(hubspot.sign(c.need_key(), "POST", uri, body, int(c.now * 1000)))


def _twilio(c: Context) -> None:
    from ..senders import twilio
    if c.draft.event:
        c.place(c.source.event, c.draft.event, "event")
    c.headers["I-Twilio-Idempotency-Token"] = c.identify(c.fresh("uuid"))
    c.headers["User-Agent"] = "TwilioProxy/1.1"
    body = c.body.bytes()
    if c.body.kind == "json":
        # A JSON body is not signed itself: its hash travels in the signed URL.
        c.query = urlencode({"bodySHA256": hashlib.sha256(body).hexdigest()})
        params: dict[str, list[str]] = {}
    else:
        params = {}
        for name, value in c.body.form:
            params.setdefault(name, []).append(value)
    signed = _with_query(c.source.public_url or c.url, c.query)
    c.headers["X-Twilio-Signature"] = twilio.sign(c.need_key(), signed, params)
    # Twilio signs no id: airhook's delivery id is the hash of the signed query and parameters.
    c.delivery_id = twilio.signed_delivery_id(c.query, params, body, c.body.kind == "json")


def _hmac(c: Context) -> None:
    source = c.source
    if c.draft.event:
        c.place(source.event, c.draft.event, "event")
    if source.delivery is not None and source.delivery.kind != "value":
        c.place(source.delivery, c.identify(c.fresh("uuid")), "delivery id")
    if source.timestamp_header is not None:
        stamp = int(c.now * 1000) if source.timestamp_millis else int(c.now)
        c.headers[source.timestamp_header] = str(stamp)
    inbound = _inbound(c)
    c.headers[source.header] = source.sign(c.need_key(), inbound)


def _token(c: Context) -> None:
    source = c.source
    if c.draft.event:
        c.place(source.event, c.draft.event, "event")
    if source.delivery is not None and source.delivery.kind != "value":
        c.place(source.delivery, c.identify(c.fresh("uuid")), "delivery id")
    token = c.need_key().decode("utf-8")
    c.headers[source.header] = f"{source.scheme} {token}" if source.scheme else token


def _google_oidc(c: Context) -> None:
    from ..senders.google_oidc import JOB_HEADER, SCHEDULE_HEADER, pubsub_message
    source = c.source
    # Without an event locator, an event is a Cloud Scheduler job's name, sent as Scheduler sends a
    # tick: with the time it was scheduled for, which is what makes its retries one delivery.
    scheduler = bool(c.draft.event) and not c.place(source.event, c.draft.event or "", "event")
    when = (c.draft.delivery_id or "").rpartition("__")[2] or c.iso_now()
    if scheduler:
        c.headers.update({JOB_HEADER: c.draft.event or "", SCHEDULE_HEADER: when,
                          "X-CloudScheduler": "true", "User-Agent": "Google-Cloud-Scheduler"})
    if source.delivery is not None and source.delivery.kind != "value":
        c.place(source.delivery, c.identify(c.fresh("uuid")), "delivery id")
    elif scheduler:
        c.delivery_id, c.redeliver = f"{c.draft.event}__{when}", when
    elif pubsub_message(c.body.json) is not None:
        ident = c.identify(c.fresh("number"))
        c.body.set("message.messageId", ident, "message id")
        c.body.set("message.message_id", ident, "message id")
        c.body.set("message.publishTime", c.iso_now(), "publish time")
        c.headers["User-Agent"] = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
    if c.id_token is None:
        raise CliError(f"source {source.name!r} needs a Google ID token")
    c.headers["Authorization"] = f"Bearer {c.id_token}"


_BUILDERS: dict[str, Callable[[Context], None]] = {
    "github": _github, "stripe": _stripe, "slack": _slack, "standard-webhooks": _standard_webhooks,
    "svix": _standard_webhooks, "gitlab": _gitlab, "bitbucket": _bitbucket, "jira": _jira,
    "shopify": _shopify, "linear": _linear, "pagerduty": _pagerduty, "zendesk": _zendesk,
    "hubspot": _hubspot, "twilio": _twilio, "hmac": _hmac, "token": _token,
    "google-oidc": _google_oidc,
}

#: Every sender type a delivery can be built for.
TYPES = tuple(sorted(_BUILDERS))


def _with_query(url: str, query: str) -> str:
    return url + ("?" + query if query else "")


def _inbound(c: Context) -> Inbound:
    return Inbound(method="POST", path="/" + c.source.name, headers={k.lower(): v for k, v in c.headers.items()},
                   body=c.body.bytes(), query=c.query, url=_with_query(c.url, c.query))


def signing_key(source: Any, override: str | None = None) -> bytes | None:
    """The credential ``source`` verifies with: the first (newest) secret, or ``override``
    (``--secret``) in the form the config takes it."""
    kind = source.type
    if override is not None:
        if kind in ("standard-webhooks", "svix") or (kind == "gitlab" and source.signing_keys):
            from ..senders.standard_webhooks import decode_secret
            decoded = decode_secret(override)
            if decoded is None:
                raise CliError("--secret: expected a whsec_<base64> secret for this source")
            return decoded
        return override.encode("utf-8")
    if kind in ("standard-webhooks", "svix"):
        return source.keys[0]
    if kind == "gitlab":
        return (source.signing_keys or source.tokens)[0]
    if kind in ("twilio", "token"):
        return source.tokens[0]
    if kind == "google-oidc":
        return None
    return source.secrets[0]


def prepare(source: Any, draft: Draft, *, url: str, now: float, key: bytes | None,
            id_token: str | None = None) -> Outbound:
    """The delivery ``source``'s sender would make of ``draft``, addressed to ``url``.

    Raises:
        CliError: the type is unknown, or the draft cannot be sent as this sender sends.
    """
    builder = _BUILDERS.get(source.type)
    if builder is None:
        raise CliError(f"cannot sign for sender type {source.type!r}")
    context = Context(source=source, draft=draft, body=Body(draft.body, draft.content_type),
                      url=url.split("?", 1)[0], now=now, key=key, id_token=id_token,
                      query=urlsplit(url).query)
    context.headers.update(draft.headers)
    context.headers["Content-Type"] = draft.content_type
    builder(context)
    body = context.body.bytes()
    # A header the user gave wins over one the sender sets (to try a wrong signature, say).
    for name, value in draft.headers.items():
        matching = [k for k in context.headers if k.lower() == name.lower() and k != name]
        for other in matching:
            del context.headers[other]
        context.headers[name] = value
    delivery_id = context.delivery_id or body_hash(body)
    return Outbound(url=_with_query(context.url, context.query), headers=context.headers, body=body,
                    delivery_id=delivery_id, redeliver=context.redeliver, now=now)


__all__ = ["Draft", "Outbound", "TYPES", "body_hash", "prepare", "random_id", "signing_key"]
