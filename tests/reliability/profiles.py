"""One profile per sender variant: the source's config, a routable body, and an independent signer.

A profile builds a request exactly as its sender would (signatures computed here with ``hmac``,
``base64`` and google-auth, never with airhook's own ``sign`` helpers, so a verifier bug cannot
hide behind a signer with the same bug), for any secret, body, timestamp and delivery id. The
suites drive every profile through the whole pipeline; :data:`PROFILES` must cover every type in
``airhook.senders.types()`` (a test fails naming any type that has none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets as _secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

#: Where URL-signing senders (HubSpot, Twilio) are configured to think they post.
PUBLIC_BASE = "https://hooks.example.com"
DAG_ID = "reliability_sink"


@dataclass(frozen=True)
class Request:
    """A request as ``Receiver.handle`` takes it (headers lower-cased)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    query: str = ""
    url: str = ""

    def with_headers(self, **changes: str | None) -> Request:
        """Header names with ``_`` for ``-``; None removes the header."""
        headers = dict(self.headers)
        for key, value in changes.items():
            name = key.replace("_", "-").lower()
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        return replace(self, headers=headers)


@dataclass(frozen=True)
class Material:
    """What varies between two requests of one profile. ``timestamp`` is the exact text a sender
    would put in its timestamp field (None: ``now`` in the profile's format)."""

    ident: str
    now: int
    canary: str
    secret: Any
    body: bytes | None = None
    timestamp: str | None = None
    content_type: str | None = None


Builder = Callable[["Profile", Material], Request]


@dataclass(frozen=True)
class Profile:
    """A sender variant. ``timestamp`` says where its replay timestamp lives: ``seconds``,
    ``millis`` or ``iso`` (a header), ``stripe`` (``t=``), ``body-millis`` (Linear) or ``jwt``
    (google-oidc's ``iat``/``exp``); None for schemes without one."""

    name: str
    type: str
    options: Mapping[str, Any]
    event: str
    secret: Any
    wrong_secret: Any
    credential_headers: tuple[str, ...]
    binds_body: bool
    content_type: str
    build_request: Builder
    timestamp: str | None = None
    tolerance: int = 300
    #: strings that must never appear in a log line
    leak_strings: tuple[str, ...] = ()
    #: the credential header's value is itself a secret (a shared token, a bearer ID token)
    credential_is_secret: bool = False
    #: statuses besides 401 that may refuse a forged, tampered or replayed request: Twilio signs
    #: the parsed form, so an unparseable one is a 400 before any signature is checked; Linear's
    #: timestamp is inside the signed body, so a body that does not parse is a 400
    also_refused_with: tuple[int, ...] = ()
    #: headers (besides the credential) whose text is covered by the signature
    signed_headers: tuple[str, ...] = ()
    #: ``oracle(request) -> bool``: does the request carry a valid credential, by an independent
    #: implementation (the provider's SDK)? Used where byte equality is not the criterion.
    oracle: Callable[[Request], bool] | None = field(default=None, compare=False)

    @property
    def path(self) -> str:
        return "/" + self.name

    def build(self, ident: str, now: int, canary: str = "", *, secret: Any = None,
              body: bytes | None = None, timestamp: str | None = None,
              content_type: str | None = None) -> Request:
        """A signed request (with the real secret unless ``secret`` is given)."""
        material = Material(ident=ident, now=now, canary=canary,
                            secret=self.secret if secret is None else secret, body=body,
                            timestamp=timestamp, content_type=content_type)
        return self.build_request(self, material)

    def default_body(self, ident: str, now: int, canary: str) -> bytes:
        return self.build(ident, now, canary).body


# ------------------------------------------------------------------------------------------ helpers


def _hmac(secret: bytes, message: bytes, digest: str = "sha256") -> bytes:
    return hmac.new(secret, message, digest).digest()


def _hex(secret: bytes, message: bytes, digest: str = "sha256") -> str:
    return _hmac(secret, message, digest).hex()


def _b64(secret: bytes, message: bytes, digest: str = "sha256") -> str:
    return base64.b64encode(_hmac(secret, message, digest)).decode("ascii")


def _text(value: str) -> bytes:
    """A header text as a sender's signing code would encode it (UTF-8, lone surrogates too)."""
    return value.encode("utf-8", "surrogatepass")


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _request(profile: Profile, m: Material, body: bytes, headers: Mapping[str, str], *,
             query: str = "") -> Request:
    merged = {"content-type": m.content_type or profile.content_type, "user-agent": "reliability/1"}
    merged.update({k.lower(): v for k, v in headers.items()})
    url = f"http://127.0.0.1{profile.path}" + ("?" + query if query else "")
    return Request("POST", profile.path, merged, body, query=query, url=url)


def _whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")


def _whsec_key(secret: str) -> bytes:
    return base64.b64decode(secret[len("whsec_"):])


def _whsec_leaks(secret: str) -> tuple[str, ...]:
    key = _whsec_key(secret)
    return (secret, secret[len("whsec_"):], key.hex())


def _token() -> str:
    return "tok_" + _secrets.token_urlsafe(24)


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ builders


def _github(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json(
        {"ref": "refs/heads/main", "after": "0" * 40, "canary": m.canary,
         "repository": {"full_name": "octo/reliability"}})
    return _request(p, m, body, {"x-github-event": "push", "x-github-delivery": m.ident,
                                 "x-hub-signature-256": "sha256=" + _hex(_text(m.secret), body)})


def _stripe(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json(
        {"id": m.ident, "object": "event", "type": "invoice.paid", "canary": m.canary,
         "data": {"object": {"id": "in_1", "amount_paid": 1250}}})
    t = m.timestamp if m.timestamp is not None else str(m.now)
    signature = _hex(_text(m.secret), _text(t) + b"." + body)
    return _request(p, m, body, {"stripe-signature": f"t={t},v1={signature}"})


def _slack(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json(
        {"type": "event_callback", "event_id": m.ident, "canary": m.canary,
         "event": {"type": "app_mention", "text": "deploy"}})
    t = m.timestamp if m.timestamp is not None else str(m.now)
    signature = "v0=" + _hex(_text(m.secret), b"v0:" + _text(t) + b":" + body)
    return _request(p, m, body, {"x-slack-signature": signature, "x-slack-request-timestamp": t})


def _standard(prefix: str) -> Builder:
    def build(p: Profile, m: Material) -> Request:
        body = m.body if m.body is not None else _json(
            {"type": "user.created", "canary": m.canary, "data": {"id": "user_1"}})
        t = m.timestamp if m.timestamp is not None else str(m.now)
        mac = _hmac(_whsec_key(m.secret), _text(m.ident) + b"." + _text(t) + b"." + body)
        signature = "v1," + base64.b64encode(mac).decode("ascii")
        return _request(p, m, body, {f"{prefix}-id": m.ident, f"{prefix}-timestamp": t,
                                     f"{prefix}-signature": signature})
    return build


def _gitlab_body(m: Material) -> bytes:
    return m.body if m.body is not None else _json(
        {"object_kind": "push", "ref": "refs/heads/main", "canary": m.canary})


def _gitlab_token(p: Profile, m: Material) -> Request:
    return _request(p, m, _gitlab_body(m), {"x-gitlab-token": m.secret, "x-gitlab-event": "Push Hook",
                                            "idempotency-key": m.ident})


def _gitlab_signed(p: Profile, m: Material) -> Request:
    signed = _standard("webhook")(p, replace(m, body=_gitlab_body(m)))
    return signed.with_headers(x_gitlab_event="Push Hook")


def _hub_signature(event_header: str, event: str, id_header: str) -> Builder:
    def build(p: Profile, m: Material) -> Request:
        body = m.body if m.body is not None else _json(
            {"webhookEvent": event, "canary": m.canary, "repository": {"name": "r"}})
        return _request(p, m, body, {"x-hub-signature": "sha256=" + _hex(_text(m.secret), body),
                                     event_header: event, id_header: m.ident})
    return build


def _jira(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json(
        {"webhookEvent": "jira:issue_created", "canary": m.canary, "issue": {"key": "OPS-1"}})
    return _request(p, m, body, {"x-hub-signature": "sha256=" + _hex(_text(m.secret), body),
                                 "x-atlassian-webhook-identifier": m.ident})


def _shopify(p: Profile, m: Material) -> Request:
    # Shopify signs no id: airhook keys the delivery on topic + body, so each delivery's body differs.
    body = m.body if m.body is not None else _json({"id": 820982911946154508, "canary": m.canary,
                                                    "admin_graphql_api_id": m.ident})
    return _request(p, m, body, {"x-shopify-hmac-sha256": _b64(_text(m.secret), body),
                                 "x-shopify-topic": "orders/create", "x-shopify-webhook-id": m.ident})


def _linear(p: Profile, m: Material) -> Request:
    if m.body is not None:
        body = m.body
    else:
        stamp: Any = m.now * 1000
        if m.timestamp is not None:  # the body's webhookTimestamp, as JSON text
            stamp = json.loads(m.timestamp) if _is_json(m.timestamp) else m.timestamp
        body = _json({"type": "Issue", "action": "create", "webhookTimestamp": stamp,
                      "canary": m.canary, "data": {"id": "i1"}})
    return _request(p, m, body, {"linear-signature": _hex(_text(m.secret), body),
                                 "linear-delivery": m.ident})


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _pagerduty(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json(
        {"event": {"id": m.ident, "event_type": "incident.triggered", "canary": m.canary}})
    return _request(p, m, body, {"x-pagerduty-signature": "v1=" + _hex(_text(m.secret), body)})


def _zendesk(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json(
        {"id": m.ident, "type": "zen:event-type:ticket.created", "canary": m.canary})
    t = m.timestamp if m.timestamp is not None else iso(m.now)
    return _request(p, m, body, {"x-zendesk-webhook-signature": _b64(_text(m.secret), _text(t) + body),
                                 "x-zendesk-webhook-signature-timestamp": t})


def _hubspot(p: Profile, m: Material) -> Request:
    event_id = int(hashlib.sha256(_text(m.ident)).hexdigest()[:12], 16)
    body = m.body if m.body is not None else _json(
        [{"eventId": event_id, "subscriptionType": "contact.creation", "canary": m.canary}])
    t = m.timestamp if m.timestamp is not None else str(m.now * 1000)
    uri = PUBLIC_BASE + p.path  # no escapes to decode in this URI
    signature = _b64(_text(m.secret), b"POST" + _text(uri) + body + _text(t))
    return _request(p, m, body, {"x-hubspot-signature-v3": signature,
                                 "x-hubspot-request-timestamp": t})


def _twilio_json(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json({"sid": m.ident, "canary": m.canary})
    query = "bodySHA256=" + hashlib.sha256(body).hexdigest()
    signed = PUBLIC_BASE + p.path + "?" + query
    return _request(p, m, body, {"x-twilio-signature": _b64(_text(m.secret), _text(signed), "sha1"),
                                 "i-twilio-idempotency-token": m.ident}, query=query)


def _twilio_form_string(url: str, body: bytes) -> bytes:
    params: dict[str, set[str]] = {}
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        params.setdefault(name, set()).add(value)
    return _text(url + "".join(name + value for name in sorted(params) for value in sorted(params[name])))


def _twilio_form(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else urlencode(
        {"AccountSid": "AC" + "1" * 32, "MessageSid": m.ident, "Body": "deploy", "canary": m.canary}
    ).encode("ascii")
    signature = _b64(_text(m.secret), _twilio_form_string(PUBLIC_BASE + p.path, body), "sha1")
    return _request(p, m, body, {"x-twilio-signature": signature, "i-twilio-idempotency-token": m.ident})


def _twilio_form_oracle(secret: str, path: str) -> Callable[[Request], bool]:
    """Twilio's own RequestValidator, given the form as Flask would parse it."""
    from twilio.request_validator import RequestValidator
    from werkzeug.datastructures import MultiDict

    validator = RequestValidator(secret)

    def valid(request: Request) -> bool:
        try:
            text = request.body.decode("ascii")
        except UnicodeDecodeError:
            return False
        params = MultiDict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
                           if _decodes(text) else [])
        return bool(validator.validate(PUBLIC_BASE + path, params,
                                       request.headers.get("x-twilio-signature", "")))
    return valid


def _decodes(text: str) -> bool:
    try:
        parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        return True
    except (UnicodeDecodeError, ValueError):
        return False


def _hmac_generic(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json({"kind": "build.done", "canary": m.canary})
    t = m.timestamp if m.timestamp is not None else str(m.now)
    message = _text(t) + b"." + b"POST" + b"." + _text(p.path) + b"." + body
    return _request(p, m, body, {"x-signature": "sha256=" + _hex(_text(m.secret), message),
                                 "x-timestamp": t, "x-event": "build.done", "x-delivery": m.ident})


def _hmac_b64(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json({"kind": "job.finished", "canary": m.canary})
    signature = "sha512=" + _b64(_text(m.secret), body, "sha512")
    # A rotation-style header: a junk entry first, the real one second.
    return _request(p, m, body, {"x-sig": "sha512=AAAA, " + signature, "x-delivery": m.ident})


def _token_request(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json({"action": "backfill", "canary": m.canary,
                                                    "date": "2024-01-01"})
    return _request(p, m, body, {"authorization": f"Bearer {m.secret}", "x-request-id": m.ident})


# ------------------------------------------------------------------------------------------ google-oidc

OIDC_AUDIENCE = PUBLIC_BASE + "/r-google-oidc"
OIDC_EMAIL = "scheduler@reliability.iam.gserviceaccount.com"


@cache
def oidc_keys() -> dict[str, Any]:
    """Two RSA keys: ``signer`` (its certificate is served as Google's ``kid-1``) and ``impostor``
    (another key claiming ``kid-1``); ``certs`` is what the certificate endpoint serves."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from google.auth import crypt

    def make() -> tuple[Any, str, bytes]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reliability.example")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(1)
                .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1))
                .sign(key, hashes.SHA256()))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return crypt.RSASigner.from_string(pem, key_id="kid-1"), cert.public_bytes(
            serialization.Encoding.PEM).decode(), pem

    signer, cert, pem = make()
    impostor, _, other_pem = make()
    return {"signer": signer, "impostor": impostor, "certs": {"kid-1": cert},
            "pems": (pem.decode(), other_pem.decode())}


def oidc_token(signer: Any, claims: Mapping[str, Any]) -> str:
    from google.auth import jwt
    return jwt.encode(signer, dict(claims)).decode("ascii")


def oidc_claims(now: int, **overrides: Any) -> dict[str, Any]:
    claims = {"iss": "https://accounts.google.com", "aud": OIDC_AUDIENCE, "email": OIDC_EMAIL,
              "email_verified": True, "iat": now, "exp": now + 3600, "sub": "1"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _oidc(p: Profile, m: Material) -> Request:
    body = m.body if m.body is not None else _json({"job": "nightly", "canary": m.canary})
    key = oidc_keys()[m.secret]  # the secret names the key: "signer" or "impostor"
    if m.timestamp is not None:  # a JSON object of claim overrides (iat/exp shapes)
        claims = oidc_claims(m.now, **json.loads(m.timestamp))
    else:
        claims = oidc_claims(m.now)
    token = oidc_token(key, claims)
    return _request(p, m, body, {"authorization": f"Bearer {token}",
                                 "x-cloudscheduler-jobname": "nightly",
                                 "x-cloudscheduler-scheduletime": m.ident})


# ------------------------------------------------------------------------------------------ registry


def _profiles() -> dict[str, Profile]:
    s = {k: _token() for k in ("github", "stripe", "slack", "bitbucket", "jira", "shopify", "linear",
                               "pagerduty", "zendesk", "hubspot", "twilio", "twilio-form", "hmac",
                               "hmac-b64", "token", "gitlab")}
    s["stripe"] = "whsec_" + _secrets.token_urlsafe(24)
    w = {k: _whsec() for k in ("standard-webhooks", "svix", "gitlab-signed")}

    def hmac_profile(name: str, type_: str, builder: Builder, event: str, headers: tuple[str, ...],
                     options: Mapping[str, Any] | None = None, **extra: Any) -> Profile:
        secret = s[name]
        return Profile(name=f"r-{name}", type=type_, options={"secrets": [secret], **(options or {})},
                       event=event, secret=secret, wrong_secret=_token(), credential_headers=headers,
                       binds_body=True, content_type="application/json", build_request=builder,
                       leak_strings=(secret,), **extra)

    def whsec_profile(name: str, type_: str, builder: Builder, event: str, prefix: str,
                      options: Mapping[str, Any], key: str = "secrets") -> Profile:
        secret = w[name]
        return Profile(name=f"r-{name}", type=type_, options={key: [secret], **options}, event=event,
                       secret=secret, wrong_secret=_whsec(), credential_headers=(f"{prefix}-signature",),
                       binds_body=True, content_type="application/json", build_request=builder,
                       timestamp="seconds", leak_strings=_whsec_leaks(secret),
                       signed_headers=(f"{prefix}-id", f"{prefix}-timestamp"))

    profiles = [
        hmac_profile("github", "github", _github, "push", ("x-hub-signature-256",)),
        hmac_profile("stripe", "stripe", _stripe, "invoice.paid", ("stripe-signature",),
                     timestamp="stripe"),
        hmac_profile("slack", "slack", _slack, "app_mention", ("x-slack-signature",), timestamp="seconds",
                     signed_headers=("x-slack-request-timestamp",)),
        whsec_profile("standard-webhooks", "standard-webhooks", _standard("webhook"), "user.created",
                      "webhook", {}),
        whsec_profile("svix", "svix", _standard("svix"), "user.created", "svix", {}),
        whsec_profile("gitlab-signed", "gitlab", _gitlab_signed, "Push Hook", "webhook", {},
                      key="signing_tokens"),
        Profile(name="r-gitlab", type="gitlab", options={"tokens": [s["gitlab"]]}, event="Push Hook",
                secret=s["gitlab"], wrong_secret=_token(), credential_headers=("x-gitlab-token",),
                binds_body=False, content_type="application/json", build_request=_gitlab_token,
                leak_strings=(s["gitlab"],), credential_is_secret=True),
        hmac_profile("bitbucket", "bitbucket", _hub_signature("x-event-key", "repo:push", "x-request-uuid"),
                     "repo:push", ("x-hub-signature",)),
        hmac_profile("jira", "jira", _jira, "jira:issue_created", ("x-hub-signature",)),
        hmac_profile("shopify", "shopify", _shopify, "orders/create", ("x-shopify-hmac-sha256",)),
        hmac_profile("linear", "linear", _linear, "Issue.create", ("linear-signature",),
                     timestamp="body-millis", tolerance=60, also_refused_with=(400,)),
        hmac_profile("pagerduty", "pagerduty", _pagerduty, "incident.triggered", ("x-pagerduty-signature",)),
        hmac_profile("zendesk", "zendesk", _zendesk, "zen:event-type:ticket.created",
                     ("x-zendesk-webhook-signature",), timestamp="iso",
                     signed_headers=("x-zendesk-webhook-signature-timestamp",)),
        hmac_profile("hubspot", "hubspot", _hubspot, "contact.creation", ("x-hubspot-signature-v3",),
                     {"public_url": PUBLIC_BASE + "/r-hubspot"}, timestamp="millis",
                     signed_headers=("x-hubspot-request-timestamp",)),
        hmac_profile("twilio", "twilio", _twilio_json, "webhook", ("x-twilio-signature",),
                     {"public_url": PUBLIC_BASE + "/r-twilio"}, also_refused_with=(400,)),
        replace(hmac_profile("twilio-form", "twilio", _twilio_form, "webhook", ("x-twilio-signature",),
                             {"public_url": PUBLIC_BASE + "/r-twilio-form"}),
                content_type="application/x-www-form-urlencoded", also_refused_with=(400,),
                oracle=_twilio_form_oracle(s["twilio-form"], "/r-twilio-form")),
        hmac_profile("hmac", "hmac", _hmac_generic, "build.done", ("x-signature",),
                     {"header": "X-Signature", "prefix": "sha256=", "timestamp_header": "X-Timestamp",
                      "signed_content": "{timestamp}.{method}.{path}.{body}",
                      "event": {"header": "X-Event"}, "delivery_id": {"header": "X-Delivery"}},
                     timestamp="seconds", signed_headers=("x-timestamp",)),
        hmac_profile("hmac-b64", "hmac", _hmac_b64, "job.finished", ("x-sig",),
                     {"header": "X-Sig", "algorithm": "sha512", "encoding": "base64",
                      "prefix": "sha512=", "separator": ",", "event": {"body": "kind"},
                      "delivery_id": {"header": "X-Delivery"}}),
        Profile(name="r-token", type="token", options={"tokens": [s["token"]], "event": {"body": "action"},
                                                       "delivery_id": {"header": "X-Request-Id"}},
                event="backfill", secret=s["token"], wrong_secret=_token(),
                credential_headers=("authorization",), binds_body=False,
                content_type="application/json", build_request=_token_request,
                leak_strings=(s["token"],), credential_is_secret=True),
        Profile(name="r-google-oidc", type="google-oidc",
                options={"audience": OIDC_AUDIENCE, "service_accounts": [OIDC_EMAIL],
                         "certs_url": "http://127.0.0.1:9/oauth2/v1/certs"},
                event="nightly", secret="signer", wrong_secret="impostor",
                credential_headers=("authorization",), binds_body=False,
                content_type="application/json", build_request=_oidc, timestamp="jwt",
                tolerance=10, credential_is_secret=True),
    ]
    return {p.name: p for p in profiles}


PROFILES: Mapping[str, Profile] = _profiles()


def profiles_for(type_: str) -> list[Profile]:
    return [p for p in PROFILES.values() if p.type == type_]


def config_document(profiles: Mapping[str, Profile] | None = None, *, airflow_url: str = "http://127.0.0.1:9",
                    extra_routes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A config with one source and one route (to :data:`DAG_ID`) per profile."""
    profiles = PROFILES if profiles is None else profiles
    return {
        "airflow": {"url": airflow_url, "api": "v2"},
        "sources": {p.name: {"type": p.type, **p.options} for p in profiles.values()},
        "routes": [{"name": f"to-sink-{p.name}", "source": p.name, "events": [p.event],
                    "dag_id": DAG_ID, "conf": {"delivery": "delivery_id", "event": "event"}}
                   for p in profiles.values()] + list(extra_routes or []),
    }


def all_leak_strings() -> set[str]:
    found: set[str] = set()
    for p in PROFILES.values():
        found.update(x for x in p.leak_strings if len(x) >= 8)
    for pem in oidc_keys()["pems"]:
        found.update(line for line in pem.splitlines() if len(line) > 40)  # key material lines
    return found
