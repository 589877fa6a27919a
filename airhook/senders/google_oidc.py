"""Google-signed OIDC ID tokens: ``Authorization: Bearer <JWT>`` from Cloud Scheduler HTTP jobs,
Pub/Sub push subscriptions, Cloud Tasks, Workflows, or a person's ``gcloud auth
print-identity-token`` for manual requests.

The token's RS256 signature is checked with google-auth against Google's public certificates
(fetched once per instance and kept for the lifetime their ``Cache-Control`` gives); then, always:
the configured **audience** (google-auth's ``audience=None`` would skip it), the issuer, ``iat`` and
``exp`` against the injected clock, ``email_verified``, and ``email`` in the configured allowlist.

google-auth is imported on the first request, so other deployments never load it.

The token signs nothing about the request: whoever holds one (valid up to an hour) can send any
body and any headers. The delivery id is therefore the sender's own id as sent (Cloud Scheduler's
job and schedule time, Cloud Tasks' queue and task name, Pub/Sub's message id in the envelope or,
unwrapped, in ``X-Goog-Pubsub-Message-Id``), which is what makes a sender's retry one run.

https://cloud.google.com/scheduler/docs/http-target-auth
https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
https://cloud.google.com/pubsub/docs/payload-unwrapping (checked 2026-11-30)
https://cloud.google.com/tasks/docs/creating-http-target-tasks (request headers)
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..body import field_text, parse_generic_body, parse_json
from ..delivery import Delivery, Inbound
from ..errors import (
    BadSignature,
    ConfigError,
    MalformedRequest,
    MissingSignature,
    TimestampOutOfWindow,
    VerificationUnavailable,
)
from .base import Example, Outgoing, SenderType, SigningError, SourceBase
from .locators import Locator, locator_option
from .options import check_keys, int_option, max_body_option, strings_option, url_option
from .request import delivery_id, routable_headers

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
AUTH_HEADER = "authorization"
JOB_HEADER = "x-cloudscheduler-jobname"
SCHEDULE_HEADER = "x-cloudscheduler-scheduletime"
#: Pub/Sub push with payload unwrapping and "write metadata": the message's metadata as headers.
PUBSUB_MESSAGE_HEADER = "x-goog-pubsub-message-id"
PUBSUB_SUBSCRIPTION_HEADER = "x-goog-pubsub-subscription-name"
PUBSUB_PUBLISH_TIME_HEADER = "x-goog-pubsub-publish-time"
#: Cloud Tasks: a task's name is unique in its queue and the same on every retry of it.
TASK_HEADER = "x-cloudtasks-taskname"
QUEUE_HEADER = "x-cloudtasks-queuename"
CREDENTIAL_HEADERS: tuple[str, ...] = (AUTH_HEADER,)

#: Certificates are kept this long when Google's answer has no max-age, and at most this long.
DEFAULT_CERTS_TTL = 3600.0
MAX_CERTS_TTL = 24 * 3600.0
#: A token signed by an unknown key id triggers a refetch (Google rotated) at most this often.
REFETCH_INTERVAL = 60.0
#: While no certificates are held, a failed fetch is retried after 1 s, then 2, 4, ... up to
#: REFETCH_INTERVAL; requests in between are answered 503 without a fetch, so an outage of
#: Google's endpoint (or of the egress) does not turn every request into an outbound call.
FIRST_BACKOFF = 1.0
FETCH_TIMEOUT = 5.0
#: google-auth checks iat/exp against the wall clock; they are checked against the injected
#: clock below, so its own check is widened until it can never be the one that decides.
_WALL_CLOCK_SKEW = 100 * 365 * 24 * 3600

_MAX_AGE = re.compile(r"max-age=(\d+)")


# ------------------------------------------------------------------------------- certificates


#: ``fetch(url, timeout) -> (status, headers, body)``; injectable for tests.
Fetcher = Callable[[str, float], tuple[int, Mapping[str, str], bytes]]

_POOL: Any = None


def _fetch(url: str, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
    from ..httpconn import Http

    global _POOL
    if _POOL is None:
        _POOL = Http(max_idle=2)
    reply = _POOL.request("GET", url, timeout=timeout)  # Unreachable: the cache keeps what it has
    return reply.status, reply.headers, reply.body


class CertCache:
    """Google's signing certificates ``{key id: PEM}``, one cache per source (per instance).

    Refreshed when their max-age runs out, or at most once a ``REFETCH_INTERVAL`` when a token
    names a key id not in them (Google rotates keys every few days). If a refresh fails, the
    certificates already held are used until the next attempt.
    """

    def __init__(self, url: str, fetch: Fetcher = _fetch) -> None:
        self.url = url
        self._fetch = fetch
        self._lock = threading.Lock()
        self._certs: dict[str, str] = {}
        self._expires = float("-inf")
        self._last_attempt = float("-inf")
        self._backoff = 0.0
        self._retry_at = float("-inf")
        #: how many fetches were made (tests check the caching)
        self.fetches = 0

    def __repr__(self) -> str:
        return f"CertCache({self.url!r}, keys={sorted(self._certs)})"

    def get(self, kid: str, now: float) -> Mapping[str, str]:
        """The certificates, refreshed first if expired or missing ``kid``.

        Raises:
            VerificationUnavailable: there are none and they cannot be fetched (or the last
                attempt failed less than the current backoff ago).
        """
        with self._lock:
            if not self._certs and now < self._retry_at:
                raise VerificationUnavailable(f"no Google certificates held; next fetch from {self.url} "
                                              f"in {self._retry_at - now:.0f}s")
            stale = now >= self._expires
            unknown = kid not in self._certs and now - self._last_attempt >= REFETCH_INTERVAL
            if stale or unknown:
                self._refresh(now)
            return dict(self._certs)

    def _refresh(self, now: float) -> None:
        self._last_attempt = now
        self.fetches += 1
        try:
            status, headers, data = self._fetch(self.url, FETCH_TIMEOUT)
            certs = json.loads(data) if status == 200 else None
        except Exception as exc:  # network, JSON: keep what we have, say why
            error = f"{type(exc).__name__}"
            certs = None
        else:
            error = f"HTTP {status}"
        if not isinstance(certs, dict) or not certs or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in certs.items()):
            if not self._certs:
                self._backoff = min(max(2 * self._backoff, FIRST_BACKOFF), REFETCH_INTERVAL)
                self._retry_at = now + self._backoff
                raise VerificationUnavailable(f"cannot fetch Google's certificates from {self.url}: {error}")
            self._expires = now + REFETCH_INTERVAL  # retry soon, serve the old ones meanwhile
            return
        headers = {k.lower(): v for k, v in headers.items()}
        match = _MAX_AGE.search(headers.get("cache-control", ""))
        ttl = min(float(match.group(1)), MAX_CERTS_TTL) if match else DEFAULT_CERTS_TTL
        self._certs = certs
        self._expires = now + ttl
        self._backoff = 0.0


# ------------------------------------------------------------------------------- verification


def bearer_token(value: str | None) -> str:
    """Raises:
        MissingSignature: no ``Authorization: Bearer <token>``.
    """
    if value is None:
        raise MissingSignature("missing Authorization header")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingSignature("Authorization is not 'Bearer <token>'")
    return token.strip()


def verify_id_token(token: str, certs: CertCache, audiences: Sequence[str], emails: frozenset[str],
                    now: float, clock_skew: float) -> dict[str, Any]:
    """Verify a Google-signed ID token; returns its claims.

    Raises:
        BadSignature: not a JWT, not RS256, an unknown key, a bad signature, the wrong audience or
            issuer, an unverified or unlisted email.
        TimestampOutOfWindow: expired, or issued in the future (beyond ``clock_skew``).
    """
    import google.auth.exceptions
    from google.auth import jwt

    try:
        header = jwt.decode_header(token)
    except Exception:  # never echo the token: its pieces end up in google-auth's messages
        raise BadSignature("bearer token is not a JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise BadSignature("ID token is not signed with RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise BadSignature("ID token has no key id")
    cert = certs.get(kid, now).get(kid)
    if cert is None:
        raise BadSignature(f"ID token key id {kid[:64]!r} is not among Google's certificates")
    try:
        claims = jwt.decode(token, certs={kid: cert}, verify=True, audience=list(audiences),
                            clock_skew_in_seconds=_WALL_CLOCK_SKEW)
    except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
        if "audience" in str(exc):
            raise BadSignature("ID token audience is not a configured audience") from None
        raise BadSignature(f"ID token rejected: {str(exc)[:120]}") from None
    # google-auth checked the audience; check it again here so that no change there can drop it.
    if claims.get("aud") not in audiences:
        raise BadSignature("ID token audience is not a configured audience")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
        raise BadSignature("ID token lacks iat or exp")
    if now > exp + clock_skew:
        raise TimestampOutOfWindow(f"ID token expired {now - exp:.0f}s ago")
    if now < iat - clock_skew:
        raise TimestampOutOfWindow(f"ID token issued {iat - now:.0f}s in the future")
    if claims.get("iss") not in ISSUERS:
        raise BadSignature("ID token issuer is not Google")
    if claims.get("email_verified") is not True:
        raise BadSignature("ID token email is not verified")
    email = claims.get("email")
    if not isinstance(email, str) or email.lower() not in emails:
        raise BadSignature(f"ID token email {str(email)[:100]!r} is not an allowed service account")
    return dict(claims)


# ------------------------------------------------------------------------------- deliveries


def pubsub_message(body: Any) -> dict[str, Any] | None:
    """A Pub/Sub push envelope's message with ``data`` decoded (JSON when it is JSON, else text,
    else the base64 as sent), or None for any other body."""
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict) or not (field_text(message, "messageId")
                                             or field_text(message, "message_id")):
        return None
    data: Any = message.get("data")
    if isinstance(data, str):
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raw = None
        if raw is not None:
            try:
                data = parse_json(raw)
            except MalformedRequest:
                try:
                    data = raw.decode("utf-8")
                except UnicodeDecodeError:
                    pass
    return {"message_id": field_text(message, "messageId") or field_text(message, "message_id"),
            "data": data, "attributes": message.get("attributes") or {},
            "publish_time": message.get("publishTime"), "subscription": body.get("subscription")}


def unwrapped_message(inbound: Inbound, body: Any) -> dict[str, Any] | None:
    """An unwrapped Pub/Sub push (``--push-no-wrapper --push-no-wrapper-write-metadata``): the
    body is the message's data and its metadata arrive as headers (its attributes too, mixed with
    the other headers, so ``attributes`` stays empty). None without the message id header."""
    message_id = inbound.header(PUBSUB_MESSAGE_HEADER)
    if message_id is None:
        return None
    return {"message_id": message_id, "data": body, "attributes": {},
            "publish_time": inbound.header(PUBSUB_PUBLISH_TIME_HEADER),
            "subscription": inbound.header(PUBSUB_SUBSCRIPTION_HEADER)}


@dataclass(frozen=True)
class GoogleOidcSource(SourceBase):
    audiences: tuple[str, ...]
    emails: frozenset[str]
    certs: CertCache = field(repr=False, compare=False)
    event: Locator | None = None
    delivery: Locator | None = None
    clock_skew: int = 10
    type: str = "google-oidc"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """The event is the configured one, else the Cloud Scheduler job name, else ``pubsub``
        for a Pub/Sub push (wrapped or unwrapped), else ``manual``. The delivery id is the
        configured one, else ``<job>__<schedule time>`` (one run per scheduled tick, whatever the
        retries), else ``<queue>/<task>`` for Cloud Tasks, else the Pub/Sub message id (from the
        envelope, or ``X-Goog-Pubsub-Message-Id`` when unwrapped), else the body hash. Routes see
        the token's ``claims`` and, for a Pub/Sub push, ``pubsub`` (``data`` decoded,
        ``attributes``, ``message_id``, ``publish_time``, ``subscription``).

        Raises:
            VerificationError: no token, or a token that fails a check (401).
            MalformedRequest: an over-long id or a bad body (400).
        """
        token = bearer_token(inbound.header(AUTH_HEADER))
        claims = verify_id_token(token, self.certs, self.audiences, self.emails, now, self.clock_skew)
        body = parse_generic_body(inbound)
        message = pubsub_message(body) or unwrapped_message(inbound, body)
        job = inbound.header(JOB_HEADER)
        schedule = inbound.header(SCHEDULE_HEADER)
        event = self.event.find(inbound, body) if self.event is not None else None
        event = event or job or ("pubsub" if message is not None else "manual")
        ident = self.delivery.find(inbound, body) if self.delivery is not None else None
        if ident is None and job and schedule:
            ident = f"{job}__{schedule}"
        task, queue = inbound.header(TASK_HEADER), inbound.header(QUEUE_HEADER)
        if ident is None and task:
            ident = f"{queue}/{task}" if queue else task
        if ident is None and message is not None:
            ident = message["message_id"]
        extra: dict[str, Any] = {"claims": claims}
        if message is not None:
            extra["pubsub"] = message
        return Delivery(source=self.name, event=event, delivery_id=delivery_id(ident, inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS),
                        extra=extra)


def _certs_url(raw: Mapping[str, Any], where: str) -> str:
    """``certs_url``: https, or http on a loopback address only (tests serve certificates there)."""
    url = url_option(raw, "certs_url", where) or GOOGLE_CERTS_URL
    parts = urlsplit(url)
    if parts.scheme == "http":
        host = parts.hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(f"{where}.certs_url: plain http is allowed for loopback addresses only")
    return url


def from_config(name: str, raw: Mapping[str, Any], where: str) -> GoogleOidcSource:
    check_keys(raw, ("audience", "service_accounts", "event", "delivery_id", "certs_url",
                     "clock_skew", "max_body_bytes"), where)
    if raw.get("audience") is None:
        raise ConfigError(f"{where}.audience: required (the URL or audience the token was minted "
                          "for); a token for any other audience must not pass")
    return GoogleOidcSource(
        name=name,
        audiences=strings_option(raw, "audience", where),
        emails=frozenset(e.lower() for e in strings_option(raw, "service_accounts", where)),
        certs=CertCache(_certs_url(raw, where)),
        event=locator_option(raw, "event", where),
        delivery=locator_option(raw, "delivery_id", where),
        clock_skew=int_option(raw, "clock_skew", 10, where, minimum=0, maximum=300),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    """A Cloud Scheduler tick, a Pub/Sub push or a manual request, with the caller's ID token."""
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
        raise SigningError(f"source {source.name!r} needs a Google ID token")
    c.headers["Authorization"] = f"Bearer {c.id_token}"


def signing_key(source: GoogleOidcSource, override: str | None) -> bytes | None:
    """None: the credential is an ID token minted for the call, not a configured secret."""
    return override.encode("utf-8") if override is not None else None


SENDER = SenderType(
    type="google-oidc", from_config=from_config, credential_headers=CREDENTIAL_HEADERS,
    sign=sign_delivery, signing_key=signing_key, deadline=9.0,
    examples=(
        Example("scheduler-tick", "scheduler-tick.json", "a Cloud Scheduler job's tick", "nightly-etl"),
        Example("pubsub-push", "pubsub-push.json", "a Pub/Sub push (a Cloud Storage object finalized)"),
        Example("manual", "manual.json", "a manual request"),
    ))
