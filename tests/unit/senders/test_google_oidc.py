"""google-oidc: ID tokens signed in the test with a generated RSA key, its certificate served from
loopback the way Google serves its own; every claim check, the cert cache, Cloud Scheduler and
Pub/Sub push deliveries."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from airhook.errors import BadSignature, ConfigError, MissingSignature, TimestampOutOfWindow, VerificationUnavailable
from airhook.senders.google_oidc import REFETCH_INTERVAL, CertCache

from .support import DROP, NOW, inbound, source

AUDIENCE = "https://airhook-abc123-ew.a.run.app/scheduler"
SERVICE_ACCOUNT = "scheduler@my-project.iam.gserviceaccount.com"


def make_key(kid: str) -> tuple[crypt.RSASigner, str, bytes]:
    """A signer, the self-signed certificate (PEM) Google would publish for it, and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.example")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return crypt.RSASigner.from_string(pem, key_id=kid), cert.public_bytes(serialization.Encoding.PEM).decode(), pem


SIGNER, CERT, _ = make_key("kid-1")
OTHER_SIGNER, OTHER_CERT, OTHER_PEM = make_key("kid-2")
#: Another key claiming Google's key id: its signature must not verify against kid-1's certificate.
IMPOSTOR = crypt.RSASigner.from_string(OTHER_PEM, key_id="kid-1")


class CertServer:
    """Serves ``{kid: PEM}`` like https://www.googleapis.com/oauth2/v1/certs, counting hits."""

    def __init__(self) -> None:
        self.certs: dict[str, str] = {"kid-1": CERT}
        self.max_age = 3600
        self.status = 200
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                data = json.dumps(server.certs).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"public, max-age={server.max_age}, must-revalidate")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth2/v1/certs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def certs() -> Iterator[CertServer]:
    server = CertServer()
    yield server
    server.close()


@pytest.fixture
def oidc(certs: CertServer) -> Any:
    certs.certs, certs.max_age, certs.status, certs.hits = {"kid-1": CERT}, 3600, 200, 0
    return source("google-oidc", name="scheduler", audience=AUDIENCE, service_accounts=[SERVICE_ACCOUNT.upper()],
                  certs_url=certs.url)


def token(signer: crypt.RSASigner = SIGNER, **changes: Any) -> str:
    claims = {"aud": AUDIENCE, "azp": "1122334455", "email": SERVICE_ACCOUNT, "email_verified": True,
              "iat": NOW - 10, "exp": NOW + 3590, "iss": "https://accounts.google.com", "sub": "1122334455"}
    claims.update(changes)
    return jwt.encode(signer, {k: v for k, v in claims.items() if v is not DROP}).decode()


def scheduler_request(value: str | None = None, body: bytes = b"", **headers: Any):
    return inbound(body, {"authorization": f"Bearer {value or token()}", "x-cloudscheduler": "true",
                          "x-cloudscheduler-jobname": "nightly-etl",
                          "x-cloudscheduler-scheduletime": "2023-11-14T22:13:00.000Z", **headers},
                   content_type="application/octet-stream")


def test_cloud_scheduler_tick(oidc: Any) -> None:
    delivery = oidc.verify(scheduler_request(), NOW)
    assert (delivery.event, delivery.delivery_id) == ("nightly-etl", "nightly-etl__2023-11-14T22:13:00.000Z")
    assert delivery.extra["claims"]["email"] == SERVICE_ACCOUNT and delivery.body == {}
    assert "authorization" not in delivery.headers


def test_retries_of_one_tick_share_the_delivery_id(oidc: Any) -> None:
    first = oidc.verify(scheduler_request(token(iat=NOW - 10)), NOW)
    retry = oidc.verify(scheduler_request(token(iat=NOW + 50, exp=NOW + 3650)), NOW + 60)
    assert first.delivery_id == retry.delivery_id


def test_pubsub_push(oidc: Any) -> None:
    envelope = {"message": {"data": base64.b64encode(b'{"table": "orders"}').decode(), "messageId": "2070443601311540",
                            "publishTime": "2023-11-14T22:13:00Z", "attributes": {"origin": "bq"}},
                "subscription": "projects/p/subscriptions/airhook"}
    request = inbound(json.dumps(envelope).encode(), {"authorization": f"Bearer {token()}"})
    delivery = oidc.verify(request, NOW)
    assert (delivery.event, delivery.delivery_id) == ("pubsub", "2070443601311540")
    assert delivery.extra["pubsub"]["data"] == {"table": "orders"}
    assert delivery.extra["pubsub"]["attributes"] == {"origin": "bq"}


def test_manual_request_with_configured_event(certs: CertServer) -> None:
    manual = source("google-oidc", audience=[AUDIENCE, "other"], service_accounts=[SERVICE_ACCOUNT],
                    certs_url=certs.url, event={"body": "action"}, delivery_id={"body": "id"})
    delivery = manual.verify(inbound(b'{"action": "backfill", "id": "m-1"}', {"authorization": f"Bearer {token()}"}), NOW)
    assert (delivery.event, delivery.delivery_id) == ("backfill", "m-1")


@pytest.mark.parametrize("value, now, error, message", [
    (lambda: token(aud="https://elsewhere.example"), NOW, BadSignature, "audience"),
    (lambda: token(aud=DROP), NOW, BadSignature, "audience"),
    (lambda: token(iss="https://evil.example"), NOW, BadSignature, "issuer"),
    (lambda: token(email="intruder@my-project.iam.gserviceaccount.com"), NOW, BadSignature, "not an allowed"),
    (lambda: token(email=DROP), NOW, BadSignature, "not an allowed"),
    (lambda: token(email_verified=False), NOW, BadSignature, "not verified"),
    (lambda: token(email_verified="true"), NOW, BadSignature, "not verified"),
    (lambda: token(email_verified=DROP), NOW, BadSignature, "not verified"),
    (lambda: token(), NOW + 3600 + 11, TimestampOutOfWindow, "expired"),
    (lambda: token(), NOW - 21, TimestampOutOfWindow, "in the future"),
    (lambda: token(exp=DROP), NOW, BadSignature, "rejected"),
    (lambda: token(OTHER_SIGNER), NOW, BadSignature, "not among Google's certificates"),
    (lambda: token(IMPOSTOR), NOW, BadSignature, "signature"),
    (lambda: forged_payload(), NOW, BadSignature, "signature"),
    (lambda: unsigned("none"), NOW, BadSignature, "RS256"),
    (lambda: unsigned("HS256"), NOW, BadSignature, "RS256"),
    (lambda: "not.a.jwt", NOW, BadSignature, "not a JWT"),
    (lambda: "a" * 50, NOW, BadSignature, "not a JWT"),
])
def test_tamper_matrix(oidc: Any, value: Any, now: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        oidc.verify(scheduler_request(value()), now)


def forged_payload() -> str:
    header, _, signature = token().split(".")
    claims = base64.urlsafe_b64encode(json.dumps({"aud": AUDIENCE, "email": "me@evil.example"}).encode())
    return f"{header}.{claims.decode().rstrip('=')}.{signature}"


def unsigned(alg: str) -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")
    claims = json.loads(base64.urlsafe_b64decode(token().split(".")[1] + "=="))
    return f"{part({'alg': alg, 'kid': 'kid-1', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@pytest.mark.parametrize("header", [DROP, "", "Basic abc", "Bearer", "Bearer   "])
def test_missing_bearer(oidc: Any, header: Any) -> None:
    with pytest.raises(MissingSignature):
        oidc.verify(inbound(b"", {"authorization": header}), NOW)


def test_certificates_are_fetched_once_and_kept_for_their_max_age(oidc: Any, certs: CertServer) -> None:
    certs.max_age = 600
    for offset in (0, 1, 599):
        oidc.verify(scheduler_request(token(iat=NOW + offset, exp=NOW + offset + 3600)), NOW + offset)
    assert certs.hits == 1
    oidc.verify(scheduler_request(token(iat=NOW + 600, exp=NOW + 4200)), NOW + 600)
    assert certs.hits == 2


def test_an_unknown_key_id_refetches_at_most_once_a_minute(oidc: Any, certs: CertServer) -> None:
    oidc.verify(scheduler_request(), NOW)
    later = NOW + REFETCH_INTERVAL
    for now in (NOW + 1, later, later + 1, later + 2):
        with pytest.raises(BadSignature, match="not among"):
            oidc.verify(scheduler_request(token(OTHER_SIGNER)), now)
    assert certs.hits == 2  # the first fetch, and one refetch a minute later
    certs.certs = {"kid-1": CERT, "kid-2": OTHER_CERT}  # Google rotated
    oidc.verify(scheduler_request(token(OTHER_SIGNER)), later + REFETCH_INTERVAL)
    assert certs.hits == 3


def test_unreachable_certificates_are_a_401_and_stale_ones_are_kept(oidc: Any, certs: CertServer) -> None:
    certs.status = 503
    with pytest.raises(VerificationUnavailable, match="cannot fetch Google's certificates"):
        oidc.verify(scheduler_request(), NOW)
    certs.status = 200
    oidc.verify(scheduler_request(), NOW + REFETCH_INTERVAL)  # the next attempt fetches them
    certs.status = 503
    oidc.verify(scheduler_request(token(iat=NOW + 4000, exp=NOW + 7000)), NOW + 5000)  # expired, refetch fails: kept


def test_cache_parses_max_age_and_bounds_it() -> None:
    calls: list[str] = []

    def fetch(url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        calls.append(url)
        return 200, {"Cache-Control": "max-age=999999999"}, json.dumps({"k": CERT}).encode()

    cache = CertCache("https://example.invalid/certs", fetch)
    assert cache.get("k", 0) == {"k": CERT}
    cache.get("k", 24 * 3600 - 1)
    assert len(calls) == 1
    cache.get("k", 24 * 3600)
    assert len(calls) == 2


@pytest.mark.parametrize("options, message", [
    ({"service_accounts": [SERVICE_ACCOUNT]}, "audience: required"),
    ({"audience": AUDIENCE}, "service_accounts: expected a non-empty list"),
    ({"audience": [], "service_accounts": [SERVICE_ACCOUNT]}, "audience: expected a non-empty list"),
    ({"audience": AUDIENCE, "service_accounts": [SERVICE_ACCOUNT], "certs_url": "http://certs.example/x"},
     "loopback addresses only"),
    ({"audience": AUDIENCE, "service_accounts": [SERVICE_ACCOUNT], "clock_skew": 3600}, "clock_skew"),
])
def test_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source("google-oidc", **options)


def test_google_auth_is_not_imported_with_the_module() -> None:
    import subprocess
    import sys
    code = ("import sys, airhook.senders.google_oidc; "
            "print(any(m == 'google.auth' or m.startswith('google.auth.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ delivery ids: the sender's own (issue 11.3)


def oidc_request(body: bytes = b'{"table": "orders"}', **headers: Any):
    return inbound(body, {"authorization": f"Bearer {token()}", **headers})


@pytest.mark.parametrize("headers, event, ident", [
    # Pub/Sub push with payload unwrapping ("write metadata"): the message id is a header.
    ({"x-goog-pubsub-message-id": "2070443601311540", "x-goog-pubsub-subscription-name": "projects/p/subscriptions/s",
      "x-goog-pubsub-publish-time": "2023-11-14T22:13:00Z"}, "pubsub", "2070443601311540"),
    # Cloud Tasks: the task's name is unique in its queue and the same on every retry.
    ({"x-cloudtasks-queuename": "etl", "x-cloudtasks-taskname": "task-17", "x-cloudtasks-taskretrycount": "2"},
     "manual", "etl/task-17"),
    ({"x-cloudtasks-taskname": "task-17"}, "manual", "task-17"),
    # A Scheduler tick wins over anything else it might carry.
    ({"x-cloudscheduler-jobname": "nightly", "x-cloudscheduler-scheduletime": "2023-11-14T22:13:00Z",
      "x-goog-pubsub-message-id": "1"}, "nightly", "nightly__2023-11-14T22:13:00Z"),
])
def test_the_delivery_id_is_the_senders_own(oidc: Any, headers: dict[str, str], event: str, ident: str) -> None:
    delivery = oidc.verify(oidc_request(**headers), NOW)
    assert (delivery.event, delivery.delivery_id) == (event, ident)


def test_two_unwrapped_messages_with_the_same_data_are_two_deliveries(oidc: Any) -> None:
    """Issue 11.3: the body hash merged them and the second was answered duplicate."""
    ids = {oidc.verify(oidc_request(**{"x-goog-pubsub-message-id": m}), NOW).delivery_id for m in ("1", "2")}
    assert ids == {"1", "2"}


def test_an_unwrapped_message_is_a_pubsub_delivery_for_routes(oidc: Any) -> None:
    delivery = oidc.verify(oidc_request(**{"x-goog-pubsub-message-id": "7",
                                           "x-goog-pubsub-subscription-name": "projects/p/subscriptions/s",
                                           "x-goog-pubsub-publish-time": "2023-11-14T22:13:00Z"}), NOW)
    assert delivery.extra["pubsub"] == {"message_id": "7", "data": {"table": "orders"}, "attributes": {},
                                        "publish_time": "2023-11-14T22:13:00Z",
                                        "subscription": "projects/p/subscriptions/s"}


def test_no_credential_reaches_routes(oidc: Any) -> None:
    request = oidc_request(**{"cookie": "s=1", "proxy-authorization": "Basic eA==", "x-goog-pubsub-message-id": "7"})
    delivery = oidc.verify(request, NOW)
    assert not {"authorization", "cookie", "proxy-authorization"} & set(delivery.headers)
    assert token().split(".")[2] not in json.dumps(delivery.document(), default=str)


def test_an_unsigned_malformed_body_is_a_401_before_any_parse(oidc: Any) -> None:
    with pytest.raises(MissingSignature):
        oidc.verify(inbound(b"{not json", {}), NOW)


# ------------------------------------------------------------------ the certificate cache backs off (issue 12 item 7)


def test_while_no_keys_are_held_failed_fetches_back_off() -> None:
    """An outage of Google's endpoint must not turn every request into an outbound fetch: while
    the cache holds no keys it retries after 1, 2, 4 ... s (at most a minute) and answers 503
    in between; the first success resets the backoff."""
    from airhook.senders.google_oidc import FIRST_BACKOFF
    calls: list[float] = []
    status = {"code": 503}

    def fetch(url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        calls.append(url)
        return status["code"], {"Cache-Control": "max-age=3600"}, json.dumps({"k": CERT}).encode()

    cache = CertCache("https://example.invalid/certs", fetch)
    now = 0.0
    for _ in range(200):  # a request every 0.5 s for 100 s
        with pytest.raises(VerificationUnavailable):
            cache.get("k", now)
        now += 0.5
    # 1, 2, 4, 8, 16, 32, 60: about seven fetches, not two hundred
    assert len(calls) <= 8
    with pytest.raises(VerificationUnavailable, match="next fetch"):
        cache.get("k", now)
    status["code"] = 200
    now += REFETCH_INTERVAL
    assert cache.get("k", now) == {"k": CERT}
    fetched = len(calls)
    assert cache.get("k", now + 1) == {"k": CERT} and len(calls) == fetched
    assert FIRST_BACKOFF <= REFETCH_INTERVAL


def test_backoff_refuses_with_503_not_401(oidc: Any, certs: CertServer) -> None:
    certs.status = 503
    for offset in (0, 0.2, 0.5):
        with pytest.raises(VerificationUnavailable):
            oidc.verify(scheduler_request(), NOW + offset)
    assert certs.hits == 1
    certs.status = 200
    oidc.verify(scheduler_request(), NOW + 2)
    assert certs.hits == 2
