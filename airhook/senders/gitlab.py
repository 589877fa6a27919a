"""GitLab: the hook's secret token in ``X-Gitlab-Token`` (compared in constant time), or, with a
signing token, the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). A source may accept either, as configured.

A signing token signs ``webhook-id``, ``webhook-timestamp`` and the body, not ``Idempotency-Key`` or
``X-Gitlab-Event``. A signed request therefore takes its delivery id from ``webhook-id`` (GitLab
sets it to the Idempotency-Key) and its event from the body: ``X-Gitlab-Event`` is used only when
it names what the signed body is, so a captured request replayed inside the window with new header
values is the same run and the same route. A secret token signs nothing (whoever holds one can
forge anything), so there the headers are taken as sent.

https://docs.gitlab.com/user/project/integrations/webhooks/ (checked 2026-11-30);
https://gitlab.com/gitlab-org/gitlab/-/merge_requests/230944 (signing tokens)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..body import field_text, parse_json_body
from ..delivery import Delivery, Inbound
from ..errors import BadSignature, ConfigError, MalformedRequest, MissingSignature
from . import standard_webhooks as sw
from .base import Example, Outgoing, SenderType, SourceBase
from .options import check_keys, max_body_option, secrets_option, tolerance_option
from .request import delivery_id, first_header, routable_headers
from .signatures import tokens_match

TOKEN_HEADER = "x-gitlab-token"
EVENT_HEADER = "x-gitlab-event"
#: Stable across GitLab's retries of one delivery, in order of preference.
DELIVERY_HEADERS = ("idempotency-key", "webhook-id", "x-gitlab-event-uuid")
CREDENTIAL_HEADERS: tuple[str, ...] = (TOKEN_HEADER, sw.STANDARD.signature)

#: ``X-Gitlab-Event`` names whose words are not the body's ``object_kind``/``event_type``.
_EVENT_ALIASES = {"job": "build", "resource_access_token": "access_token"}
#: Events named by ``event_name`` prefixes (group/project/subgroup events carry no object_kind).
_EVENT_NAME_KINDS = (("user_", "member"), ("project_", "project"), ("subgroup_", "subgroup"),
                     ("group_", "group"), ("key_", "key"), ("repository_", "repository_update"))


def _kind_of_header(name: str) -> str:
    """``Merge Request Hook`` -> ``merge_request``: the words GitLab's event header and its
    body's ``object_kind`` share."""
    words = name.strip().lower().removesuffix(" hook").replace(" ", "_")
    return _EVENT_ALIASES.get(words, words)


def signed_kinds(body: object) -> frozenset[str]:
    """What the signed body says it is: its ``object_kind``, ``event_type`` (``confidential_issue``)
    and the kind of its ``event_name``; ``system`` for any (GitLab sends a system hook the same
    bodies under ``System Hook``)."""
    kinds = {"system"}
    for key in ("object_kind", "event_type", "event_name"):
        value = field_text(body, key)
        if value is not None:
            kinds.add(value)
    name = field_text(body, "event_name") or ""
    kinds.update(kind for prefix, kind in _EVENT_NAME_KINDS if name.startswith(prefix))
    if "work_item" in kinds:  # GitLab sends work items as (Confidential) Issue Hook
        kinds.update(("issue", "confidential_issue"))
    return frozenset(kinds)


def verify_token(header: str | None, tokens: tuple[bytes, ...]) -> None:
    """Raises:
        MissingSignature: no ``X-Gitlab-Token``.
        BadSignature: it is none of ``tokens``.
    """
    if header is None:
        raise MissingSignature("missing X-Gitlab-Token header")
    if not tokens_match(tokens, header):
        raise BadSignature("X-Gitlab-Token matches no configured token")


@dataclass(frozen=True)
class GitLabSource(SourceBase):
    tokens: tuple[bytes, ...] = field(repr=False, default=())
    signing_keys: tuple[bytes, ...] = field(repr=False, default=())
    tolerance: int = 300
    type: str = "gitlab"

    def verify(self, inbound: Inbound, now: float) -> Delivery:
        """A signed request (``webhook-signature`` present) is checked against the signing
        tokens; otherwise ``X-Gitlab-Token`` against the secret tokens.

        Raises:
            VerificationError: no accepted credential, or a wrong one (401).
            MalformedRequest: no event name, an over-long id, or a bad body (400).
            UnsupportedMediaType: not JSON (415).
        """
        signed = self.signing_keys and (inbound.header(sw.STANDARD.signature) is not None
                                        or not self.tokens)
        msg_id: str | None = None
        if signed:
            _, msg_id, timestamp, signature = sw.headers_of(inbound, (sw.STANDARD,))
            sw.verify_signature(inbound.body, msg_id, timestamp, signature, self.signing_keys,
                                now, self.tolerance)
        else:
            verify_token(inbound.header(TOKEN_HEADER), self.tokens)
        body = parse_json_body(inbound)
        header_event = inbound.header(EVENT_HEADER)
        if signed and header_event is not None and _kind_of_header(header_event) not in signed_kinds(body):
            raise MalformedRequest(f"X-Gitlab-Event {header_event[:64]!r} is not what the signed body is",
                                   public="X-Gitlab-Event does not match the signed body")
        event = header_event or field_text(body, "object_kind") or field_text(body, "event_name")
        if event is None:
            raise MalformedRequest("missing X-Gitlab-Event header", public="missing X-Gitlab-Event header")
        # Signed: webhook-id, the one id the signature covers; else GitLab's ids as sent.
        ident = msg_id if signed else first_header(inbound, DELIVERY_HEADERS)
        return Delivery(source=self.name, event=event, delivery_id=delivery_id(ident, inbound.body),
                        body=body, headers=routable_headers(inbound.headers, CREDENTIAL_HEADERS))


def from_config(name: str, raw: Mapping[str, Any], where: str) -> GitLabSource:
    check_keys(raw, ("tokens", "signing_tokens", "tolerance", "max_body_bytes"), where)
    if raw.get("tokens") is None and raw.get("signing_tokens") is None:
        raise ConfigError(f"{where}: set tokens (X-Gitlab-Token), signing_tokens (whsec_...), or both")
    return GitLabSource(
        name=name,
        tokens=secrets_option(raw, where, "tokens") if raw.get("tokens") is not None else (),
        signing_keys=(sw.secrets_option(raw, where, "signing_tokens")
                      if raw.get("signing_tokens") is not None else ()),
        tolerance=tolerance_option(raw, where),
        max_body_bytes=max_body_option(raw, where),
    )


def sign_delivery(c: Outgoing) -> None:
    """GitLab's headers, with the Standard Webhooks signature when the source has signing
    tokens, else the secret token."""
    ident = c.identify(c.fresh("uuid"))
    c.headers.update({"X-Gitlab-Event": c.draft.event or "Push Hook", "Idempotency-Key": ident,
                      "X-Gitlab-Event-UUID": ident, "X-Gitlab-Webhook-UUID": c.random_id("uuid"),
                      "X-Gitlab-Instance": "https://gitlab.example.com", "User-Agent": "GitLab/17.0.0"})
    if c.source.signing_keys:
        c.headers.update({"webhook-id": ident, "webhook-timestamp": str(int(c.now))})
        c.headers["webhook-signature"] = sw.sign(c.need_key(), ident, int(c.now), c.body.bytes())
    else:
        c.headers["X-Gitlab-Token"] = c.need_key().decode("utf-8")


def signing_key(source: GitLabSource, override: str | None) -> bytes:
    if override is not None:
        return sw.decoded_override(override) if source.signing_keys else override.encode("utf-8")
    return (source.signing_keys or source.tokens)[0]


SENDER = SenderType(
    type="gitlab", from_config=from_config, credential_headers=CREDENTIAL_HEADERS, sign=sign_delivery,
    signing_key=signing_key, deadline=9.0,  # GitLab waits 10 s
    examples=(
        Example("push", "push.json", "a push to main", "Push Hook"),
        Example("merge-request-merged", "merge-request-merged.json", "a merge request merged", "Merge Request Hook"),
        Example("pipeline-succeeded", "pipeline-succeeded.json", "a pipeline on main passed", "Pipeline Hook"),
    ))
