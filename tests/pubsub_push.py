"""Google's side of a Pub/Sub push subscription's ``oidcToken``, on loopback, for tests that push
to ``deliver`` (the emulator sends no token): a signing key, its certificate served the way
https://www.googleapis.com/oauth2/v1/certs serves Google's, ID tokens for the push service account,
and a proxy that adds one to every push as Pub/Sub would. ``deliver`` checks these tokens in code
(docs/durable-mode.md, Authentication), so every queue-mode test needs them."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

PUSH_AUDIENCE = "https://europe-west1-airhook-test.cloudfunctions.net/airhook-deliver"
PUSH_ACCOUNT = "airhook-push@airhook-test.iam.gserviceaccount.com"
#: A message-signing key for tests (``delivery.signing_keys``).
SIGNING_KEY = "queue-signing-key-" + "x" * 32


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


class PushIdentity:
    """The push service account's ID tokens and the certificate that verifies them."""

    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.example")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1))
                .not_valid_after(dt.datetime(2040, 1, 1)).sign(key, hashes.SHA256()))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.signer = crypt.RSASigner.from_string(pem, key_id="push-1")
        certs = json.dumps({"push-1": cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(certs)))
                self.end_headers()
                self.wfile.write(certs)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _serve(Handler)
        self.certs_url = f"http://127.0.0.1:{self._server.server_address[1]}/oauth2/v1/certs"

    def authorization(self, **changes: Any) -> str:
        """``Authorization`` as the push sends it; ``changes`` override claims."""
        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": PUSH_AUDIENCE, "email": PUSH_ACCOUNT,
                  "email_verified": True, "sub": "1", "iat": now, "exp": now + 3600, **changes}
        return "Bearer " + jwt.encode(self.signer, claims).decode()

    def delivery_section(self, **delivery: Any) -> dict[str, Any]:
        """The ``signing_keys`` and ``push`` keys of a queue-mode ``delivery`` section."""
        return {**delivery, "signing_keys": [SIGNING_KEY],
                "push": {"audience": PUSH_AUDIENCE, "service_accounts": [PUSH_ACCOUNT],
                         "certs_url": self.certs_url}}

    def __enter__(self) -> PushIdentity:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class PushProxy:
    """Between a push subscription and ``deliver``: forwards each push with the token added.
    ``answer(body, status)`` may replace deliver's status (e.g. to lose an acknowledgement)."""

    def __init__(self, target: str, identity: PushIdentity,
                 answer: Callable[[bytes, int], int] | None = None) -> None:
        self.target = target
        self.identity = identity
        self.answer = answer
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = proxy.forward(body, self.headers.get("Content-Type", "application/json"))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def forward(self, body: bytes, content_type: str) -> int:
        request = urllib.request.Request(self.target, data=body, method="POST", headers={
            "Content-Type": content_type, "Authorization": self.identity.authorization()})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            return 502
        return self.answer(body, status) if self.answer is not None else status

    def __enter__(self) -> PushProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
