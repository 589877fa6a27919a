"""Stand-ins for Google's side of service-account auth, which cannot be reached here: a key file
google-auth really loads and signs with, and a loopback token endpoint that checks what it signed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.stubs import Recorded

SERVICE_ACCOUNT = "airhook@airhook-test.iam.gserviceaccount.com"
#: google-auth signs its assertions for Google's token URI whatever ``token_uri`` says.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def service_account_key(path: Path, token_uri: str, email: str = SERVICE_ACCOUNT) -> bytes:
    """Write a new service-account key file whose token endpoint is ``token_uri``; return the
    public key (PEM) that verifies the assertions google-auth signs with it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "airhook-test", "private_key_id": "k1",
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": email, "client_id": "1", "token_uri": token_uri}))
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


class TokenEndpoint:
    """A stub-server handler for ``POST /token``: verifies the JWT bearer assertion with
    ``public_pem`` (set once the key exists) and answers ``access_token``. The delay widens the
    window in which concurrent first requests could each start a refresh."""

    def __init__(self, access_token: str, delay: float = 0.2) -> None:
        self.access_token = access_token
        self.delay = delay
        self.public_pem = b""
        self.assertions: list[dict[str, Any]] = []

    def __call__(self, request: Recorded) -> tuple[int, Any]:
        from google.auth import jwt
        form = parse_qs(request.body.decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        self.assertions.append(jwt.decode(form["assertion"][0], certs=self.public_pem, verify=True,
                                          audience=TOKEN_AUDIENCE))
        time.sleep(self.delay)
        return 200, {"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"}
