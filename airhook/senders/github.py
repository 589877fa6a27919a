"""GitHub: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the raw body.

https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..body import parse_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, MalformedRequest, MissingSignature
from .base import Example, Outgoing, SecretSource, SenderType
from .options import check_keys, max_body_option, secrets_option
from .request import delivery_id, routable_headers
from .signatures import any_hmac_matches, ascii_bytes

SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
#: The signature and GitHub's legacy SHA-1 one: never visible to routes.
CREDENTIAL_HEADERS: tuple[str, ...] = (SIGNATURE_HEADER, "x-hub-signature")
_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send (for tests and the CLI)."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes]) -> None:
    """Check ``header`` against the raw ``body`` with any of ``secrets``.

    Raises:
        MissingSignature: no header.
        BadSignature: a malformed header, or no secret matches.
    """
    if not header:
        raise MissingSignature("missing X-Hub-Signature-256 header")
    if not header.startswith(_PREFIX):
        raise BadSignature("X-Hub-Signature-256 does not start with sha256=")
    candidate = ascii_bytes(header[len(_PREFIX):].strip().lower())
    if candidate is None or len(candidate) != 64:
        raise BadSignature("X-Hub-Signature-256 is not a 64-digit hex digest")
    if not any_hmac_matches(secrets, body, [candidate]):
        raise BadSignature("no secret matches X-Hub-Signature-256")


@dataclass(frozen=True)
class GitHubSource(SecretSource):
    type: str = "github"

    def __repr__(self) -> str:  # never print secrets, even in a debugger or a traceback
        return f"GitHubSource(name={self.name!r}, secrets=<{len(self.secrets)}>)"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """Verify the raw bytes first, then read the headers and parse the body.

        Raises:
            VerificationError: unsigned or badly signed (401).
            MalformedRequest: no event header, an over-long delivery id, or a bad body (400).
            UnsupportedMediaType: neither JSON nor a form (415).
        """
        verify_signature(inbound.body, inbound.header(SIGNATURE_HEADER), self.secrets)
        event = inbound.header(EVENT_HEADER)
        if event is None:
            raise MalformedRequest("missing X-GitHub-Event header", public="missing X-GitHub-Event header")
        ident = delivery_id(inbound.header(DELIVERY_HEADER), inbound.body)
        body = parse_body(inbound.body, inbound.content_type)
        # GitHub sends ping when a hook is created: answer it, trigger nothing.
        reply = {"message": "pong"} if event == "ping" else None
        return Delivery(source=self.name, event=event, delivery_id=ident, body=body,
                        headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS), reply=reply)


def from_config(name: str, raw: Mapping[str, Any], where: str) -> GitHubSource:
    check_keys(raw, ("secrets", "max_body_bytes"), where)
    return GitHubSource(
        name=name,
        secrets=secrets_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    """Headers as GitHub's hookshot sends them, signed with the source's first secret."""
    c.headers.update({"X-GitHub-Event": c.draft.event or "push", "User-Agent": "GitHub-Hookshot/airhook",
                      "X-GitHub-Delivery": c.identify(c.fresh("uuid")),
                      "X-GitHub-Hook-ID": "1"})
    c.headers["X-Hub-Signature-256"] = sign(c.need_key(), c.body.bytes())


SENDER = SenderType(
    type="github", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    deadline=9.0,  # GitHub waits 10 s
    examples=(
        Example("push", "push.json", "a push to main", "push"),
        Example("pull-request-merged", "pull-request-merged.json", "a pull request merged into main", "pull_request"),
        Example("release-published", "release-published.json", "a release published", "release"),
    ))
