"""Google ID tokens for ``google-oidc`` sources: minted from the environment's credentials for
``send``; made with a throwaway key (never leaving this process) for ``explain``, whose routing
must not depend on anyone's credentials."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from .output import CliError


def _on_google_cloud(environ: Mapping[str, str]) -> bool:
    """Whether a metadata server can be expected, judged without asking one: the network is not
    probed from a laptop or CI (google-auth's own check would send a request to it)."""
    if any(environ.get(name) for name in ("GCE_METADATA_HOST", "GCE_METADATA_IP", "K_SERVICE",
                                           "CLOUD_RUN_JOB", "FUNCTION_TARGET")):
        return True
    try:
        with open("/sys/class/dmi/id/product_name", encoding="utf-8") as handle:
            return handle.read().strip() in ("Google", "Google Compute Engine")
    except OSError:
        return False


def gcloud_hint(source: Any, command: str) -> str:
    """What to run instead: mint the token with gcloud, pass it with ``--id-token``."""
    account = sorted(source.emails)[0] if source.emails else "SERVICE_ACCOUNT"
    mint = (f"gcloud auth print-identity-token --impersonate-service-account={account} "
            f"--audiences={source.audiences[0]}")
    return f'{command} --id-token "$({mint})"'


def mint(source: Any, environ: Mapping[str, str], command: str) -> str:
    """An ID token for ``source``'s first audience from the service account named by
    ``GOOGLE_APPLICATION_CREDENTIALS`` or, on Google Cloud, the metadata server.

    Raises:
        CliError: no credentials can mint one here; the message says what to run instead.
    """
    audience = source.audiences[0]
    if not environ.get("GOOGLE_APPLICATION_CREDENTIALS") and not _on_google_cloud(environ):
        raise CliError("no Google credentials here can mint an ID token (set "
                       "GOOGLE_APPLICATION_CREDENTIALS to a service-account key, or run: "
                       f"{gcloud_hint(source, command)})", code=1)
    import google.auth.exceptions
    import google.auth.transport.requests
    import google.oauth2.id_token

    saved = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    try:
        if environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = environ["GOOGLE_APPLICATION_CREDENTIALS"]
        token: str = google.oauth2.id_token.fetch_id_token(
            google.auth.transport.requests.Request(), audience)
    except (google.auth.exceptions.GoogleAuthError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CliError(f"could not mint an ID token for {audience}: {reason}; instead run: "
                       f"{gcloud_hint(source, command)}", code=1) from None
    finally:
        if saved is None:
            os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        else:
            os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = saved
    return token


def local(source: Any, now: float | None = None) -> tuple[Any, str]:
    """``source`` with a certificate cache holding only a throwaway key, and a token that key
    signed for the source's first audience and first allowed account: the source's own verifier
    then reads the delivery exactly as it would a real one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth import crypt, jwt

    from ..senders.google_oidc import CertCache

    kid = "airhook-explain"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    certs = json.dumps({kid: public}).encode()
    cache = CertCache("local:explain", fetch=lambda url, timeout: (200, {}, certs))
    issued = int(time.time() if now is None else now)
    email = sorted(source.emails)[0] if source.emails else "explain@example.invalid"
    claims = {"iss": "https://accounts.google.com", "aud": source.audiences[0], "sub": "0",
              "email": email, "email_verified": True, "iat": issued, "exp": issued + 3600}
    token = jwt.encode(crypt.RSASigner.from_string(private, key_id=kid), claims).decode()
    return dataclasses.replace(source, certs=cache), token


__all__ = ["gcloud_hint", "local", "mint"]
