"""What every sendersA type (bitbucket, github, gitlab, hmac, hubspot, jira, linear; google-oidc in
its own file) owes the receiver, as one table of signed requests built the way each vendor signs:

- the delivery id is the sender's own id for the delivery (issue 11.3), and where the scheme signs
  an id or the event, they come from the signed material (12.3);
- no credential header reaches routes (12.4);
- an unsigned request is refused 401 before its body is parsed, and costs at most a small multiple
  of its size in memory (12.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks as stdwh
from hubspot.utils.signature import Signature

from airhook.delivery import Inbound
from airhook.errors import MalformedRequest, VerificationError
from airhook.senders import Source

from .support import NOW, fresh_secret, inbound, source

SECRET = fresh_secret()
SIGNING = "whsec_" + base64.b64encode(os.urandom(32)).decode()
PUBLIC = "https://hooks.example.com/src"
#: Credentials any client may add, whatever the type: never visible to routes.
GENERIC = {"authorization": "Bearer leaked", "proxy-authorization": "Basic bGVha2Vk", "cookie": "session=leaked"}


def hex_mac(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def gitlab_signed(body: bytes, msg_id: str, timestamp: int = NOW) -> str:
    return stdwh.Webhook(SIGNING).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())


@dataclass(frozen=True)
class Case:
    """One sender variant: its source, a routable body, how the vendor signs it, the id it sends."""

    name: str
    source: Source
    body: bytes
    sign: Callable[[bytes], dict[str, str]]
    sent_id: str
    #: the headers that carry the signature or token (must not reach routes)
    credentials: tuple[str, ...]
    event: str
    #: False for a shared token, which proves the sender but binds nothing to the body
    binds_body: bool = True

    def request(self, body: bytes | None = None, **extra: str) -> Inbound:
        raw = self.body if body is None else body
        return inbound(raw, {**self.sign(raw), **GENERIC, **extra}, url=PUBLIC, path="/src")


PUSH = json.dumps({"object_kind": "push", "event_name": "push", "ref": "refs/heads/main"}).encode()
ISSUE = json.dumps({"webhookEvent": "jira:issue_created", "timestamp": NOW * 1000, "issue": {"key": "ENG-1"}}).encode()
LINEAR = json.dumps({"action": "create", "type": "Issue", "data": {"id": "i-1"}, "webhookTimestamp": NOW * 1000}).encode()
HUBSPOT = json.dumps([{"eventId": 4242, "subscriptionType": "contact.creation", "objectId": 1}]).encode()
BUILD = json.dumps({"kind": "build.finished", "id": "b-9"}).encode()


def hubspot_v3(body: bytes) -> dict[str, str]:
    stamp = str(NOW * 1000)
    return {"x-hubspot-signature-v3": Signature.get_signature(SECRET, body.decode(), "v3", http_uri=PUBLIC,
                                                              http_method="POST", timestamp=stamp),
            "x-hubspot-request-timestamp": stamp}


def hubspot_legacy(version: str) -> Callable[[bytes], dict[str, str]]:
    def sign(body: bytes) -> dict[str, str]:
        return {"x-hubspot-signature": Signature.get_signature(SECRET, body.decode(), version, http_uri=PUBLIC,
                                                               http_method="POST"),
                "x-hubspot-signature-version": version}
    return sign


CASES = [
    Case("github", source("github", secrets=[SECRET]), PUSH,
         lambda b: {"x-hub-signature-256": "sha256=" + hex_mac(b),
                    "x-hub-signature": "sha1=" + hmac.new(SECRET.encode(), b, "sha1").hexdigest(),
                    "x-github-event": "push", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
         "72d3162e-cc78-11e3-81ab-4c9367dc0958", ("x-hub-signature-256", "x-hub-signature"), "push"),
    Case("bitbucket", source("bitbucket", secrets=[SECRET]), PUSH,
         lambda b: {"x-hub-signature": "sha256=" + hex_mac(b), "x-event-key": "repo:push",
                    "x-request-uuid": "b-uuid-1", "x-hook-uuid": "hook-1", "x-attempt-number": "1"},
         "b-uuid-1", ("x-hub-signature",), "repo:push"),
    Case("bitbucket-dc", source("bitbucket", secrets=[SECRET]), PUSH,
         lambda b: {"x-hub-signature": "sha256=" + hex_mac(b), "x-event-key": "repo:refs_changed",
                    "x-request-id": "dc-id-1"},
         "dc-id-1", ("x-hub-signature",), "repo:refs_changed"),
    Case("jira", source("jira", secrets=[SECRET]), ISSUE,
         lambda b: {"x-hub-signature": "sha256=" + hex_mac(b), "x-atlassian-webhook-identifier": "jira-1",
                    "x-atlassian-webhook-retry": "0"},
         "jira-1", ("x-hub-signature",), "jira:issue_created"),
    Case("linear", source("linear", secrets=[SECRET]), LINEAR,
         lambda b: {"linear-signature": hex_mac(b), "linear-delivery": "lin-1", "linear-event": "Issue",
                    "linear-timestamp": str(NOW * 1000)},
         "lin-1", ("linear-signature",), "Issue.create"),
    Case("gitlab-token", source("gitlab", tokens=[SECRET]), PUSH,
         lambda b: {"x-gitlab-token": SECRET, "x-gitlab-event": "Push Hook", "idempotency-key": "idem-1",
                    "x-gitlab-event-uuid": "uuid-1"},
         "idem-1", ("x-gitlab-token",), "Push Hook", binds_body=False),
    Case("gitlab-signed", source("gitlab", tokens=[SECRET], signing_tokens=[SIGNING]), PUSH,
         lambda b: {"webhook-id": "idem-1", "webhook-timestamp": str(NOW),
                    "webhook-signature": gitlab_signed(b, "idem-1"), "idempotency-key": "idem-1",
                    "x-gitlab-token": SECRET, "x-gitlab-event": "Push Hook"},
         "idem-1", ("x-gitlab-token", "webhook-signature"), "Push Hook"),
    Case("hubspot-v3", source("hubspot", secrets=[SECRET], public_url=PUBLIC), HUBSPOT,
         hubspot_v3, "4242", ("x-hubspot-signature-v3",), "contact.creation"),
    Case("hubspot-v2", source("hubspot", secrets=[SECRET], public_url=PUBLIC, signature_versions=["v2"]),
         HUBSPOT, hubspot_legacy("v2"), "4242", ("x-hubspot-signature",), "contact.creation"),
    Case("hubspot-v1", source("hubspot", secrets=[SECRET], public_url=PUBLIC, signature_versions=["v3", "v1"]),
         HUBSPOT, hubspot_legacy("v1"), "4242", ("x-hubspot-signature",), "contact.creation"),
    Case("hmac", source("hmac", secrets=[SECRET], header="X-Signature", prefix="sha256=",
                        event={"body": "kind"}, delivery_id={"header": "X-Delivery"}), BUILD,
         lambda b: {"x-signature": "sha256=" + hex_mac(b), "x-delivery": "d-1"},
         "d-1", ("x-signature",), "build.finished"),
    Case("hmac-url", source("hmac", secrets=[SECRET], header="X-Signature", timestamp_header="X-Timestamp",
                            signed_content="{timestamp}.{method}.{url}.{body}", public_url=PUBLIC,
                            delivery_id={"body": "id"}), BUILD,
         lambda b: {"x-signature": hex_mac(f"{NOW}.POST.{PUBLIC}.".encode() + b), "x-timestamp": str(NOW)},
         "b-9", ("x-signature",), "webhook"),
]
IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_delivery_id_is_the_senders_own(case: Case) -> None:
    delivery = case.source.verify(case.request(), NOW)
    assert (delivery.event, delivery.delivery_id) == (case.event, case.sent_id)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_two_deliveries_with_the_same_bytes_stay_two(case: Case) -> None:
    """Issue 11.3's kind: distinct ids for identical bodies are two runs, not a duplicate."""
    first = case.source.verify(case.request(), NOW)
    changed = {k: v for k, v in case.sign(case.body).items()}
    id_headers = [k for k, v in changed.items() if v == case.sent_id]
    if not id_headers:  # the id is in the signed body (HubSpot's eventId, a body locator)
        pytest.skip("the id is inside the signed body: identical bytes are the same delivery")
    second_headers = {k: ("other-id" if k in id_headers else v) for k, v in changed.items()}
    if case.name == "gitlab-signed":  # webhook-id is signed: the sender re-signs for a new id
        second_headers["webhook-signature"] = gitlab_signed(case.body, "other-id")
    second = case.source.verify(inbound(case.body, second_headers, url=PUBLIC, path="/src"), NOW)
    assert second.delivery_id == "other-id" != first.delivery_id


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_credential_reaches_routes(case: Case) -> None:
    delivery = case.source.verify(case.request(), NOW)
    leaked = set(delivery.headers) & (set(case.credentials) | set(GENERIC))
    assert not leaked
    document = json.dumps(delivery.document(), default=str)
    assert SECRET not in document and "leaked" not in document and "bGVha2Vk" not in document


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_unsigned_malformed_body_is_a_401_not_a_400(case: Case) -> None:
    """Verify first: the body of an unsigned request is never parsed (a malformed one would be 400)."""
    request = inbound(b"{not json", {"x-gitlab-event": "Push Hook", **GENERIC}, path="/src", url=PUBLIC)
    with pytest.raises(VerificationError):
        case.source.verify(request, NOW)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_badly_signed_malformed_body_is_a_401(case: Case) -> None:
    if not case.binds_body:
        pytest.skip("a valid token is valid for any body")
    headers = case.sign(case.body)  # signed for another body
    request = inbound(b"{not json", headers, path="/src", url=PUBLIC)
    with pytest.raises(VerificationError):
        case.source.verify(request, NOW)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_unsigned_large_request_costs_a_small_multiple_of_its_size(case: Case) -> None:
    """12.1: 4 MiB of percent-escapes, badly signed: refused having spent about the body's size."""
    if not case.binds_body:
        pytest.skip("a valid token is valid for any body; an invalid one is the unsigned case")
    body = b"a=" + b"%41" * (4 * 1024 * 1024 // 3)
    request = inbound(body, case.sign(b"something else"), content_type="application/x-www-form-urlencoded",
                      path="/src", url=PUBLIC)
    tracemalloc.start()
    try:
        with pytest.raises(VerificationError):
            case.source.verify(request, NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.2 * len(body) + 256 * 1024, f"{case.name}: peak {peak} for a {len(body)}-byte body"


# ------------------------------------------------------------------ GitLab: id and event from what is signed


SIGNED_GITLAB = source("gitlab", signing_tokens=[SIGNING])


def gitlab_request(body: bytes = PUSH, msg_id: str = "wh-1", **headers: str) -> Inbound:
    return inbound(body, {"webhook-id": msg_id, "webhook-timestamp": str(NOW),
                          "webhook-signature": gitlab_signed(body, msg_id), **headers})


def test_gitlab_replay_with_a_new_idempotency_key_is_the_same_run() -> None:
    """Issue 12.3: the unsigned Idempotency-Key cannot make a captured request a new run."""
    ids = {SIGNED_GITLAB.verify(gitlab_request(**{"idempotency-key": key}), NOW).delivery_id
           for key in ("idem-1", "idem-2", "idem-3")}
    assert ids == {"wh-1"}


@pytest.mark.parametrize("body, header, event", [
    (PUSH, "Push Hook", "Push Hook"),
    (PUSH, "System Hook", "System Hook"),
    (PUSH, None, "push"),
    (json.dumps({"object_kind": "tag_push"}).encode(), "Tag Push Hook", "Tag Push Hook"),
    (json.dumps({"object_kind": "merge_request", "event_type": "merge_request"}).encode(),
     "Merge Request Hook", "Merge Request Hook"),
    (json.dumps({"object_kind": "issue", "event_type": "confidential_issue"}).encode(),
     "Confidential Issue Hook", "Confidential Issue Hook"),
    (json.dumps({"object_kind": "note", "event_type": "confidential_note"}).encode(),
     "Confidential Note Hook", "Confidential Note Hook"),
    (json.dumps({"object_kind": "work_item"}).encode(), "Issue Hook", "Issue Hook"),
    (json.dumps({"object_kind": "build"}).encode(), "Job Hook", "Job Hook"),
    (json.dumps({"object_kind": "pipeline"}).encode(), "Pipeline Hook", "Pipeline Hook"),
    (json.dumps({"object_kind": "access_token"}).encode(), "Resource Access Token Hook", "Resource Access Token Hook"),
    (json.dumps({"event_name": "user_add_to_group"}).encode(), "Member Hook", "Member Hook"),
    (json.dumps({"event_name": "project_create"}).encode(), "Project Hook", "Project Hook"),
    (json.dumps({"event_name": "subgroup_create"}).encode(), "Subgroup Hook", "Subgroup Hook"),
])
def test_gitlab_signed_event_header_is_used_when_it_names_the_signed_body(body: bytes, header: str | None,
                                                                         event: str) -> None:
    extra = {"x-gitlab-event": header} if header else {}
    assert SIGNED_GITLAB.verify(gitlab_request(body, **extra), NOW).event == event


@pytest.mark.parametrize("header", ["Merge Request Hook", "Pipeline Hook", "Job Hook", "Anything"])
def test_gitlab_signed_push_relabelled_is_refused(header: str) -> None:
    """Issue 12.3: a captured push replayed as another event would reach another route."""
    with pytest.raises(MalformedRequest, match="is not what the signed body is"):
        SIGNED_GITLAB.verify(gitlab_request(**{"x-gitlab-event": header}), NOW)


def test_gitlab_token_mode_takes_headers_as_sent() -> None:
    """A secret token signs nothing: its holder could forge anything, so nothing is checked."""
    token_only = source("gitlab", tokens=[SECRET])
    request = inbound(PUSH, {"x-gitlab-token": SECRET, "x-gitlab-event": "Pipeline Hook", "idempotency-key": "k"})
    delivery = token_only.verify(request, NOW)
    assert (delivery.event, delivery.delivery_id) == ("Pipeline Hook", "k")


# ------------------------------------------------------------------ Linear: the window and event are signed


def test_linear_ignores_the_unsigned_timestamp_and_event_headers() -> None:
    """Linear's SDK prefers the unsigned ``linear-timestamp`` header; the signed body field decides."""
    linear = source("linear", secrets=[SECRET])
    request = inbound(LINEAR, {"linear-signature": hex_mac(LINEAR), "linear-timestamp": str((NOW + 3600) * 1000),
                               "linear-event": "Comment", "linear-delivery": "d"})
    assert linear.verify(request, NOW).event == "Issue.create"


# ------------------------------------------------------------------ HubSpot versions


@pytest.mark.parametrize("versions, sign, ok", [
    (["v3"], hubspot_legacy("v1"), False),  # v1/v2 are opt-in: no timestamp, no HMAC
    (["v3"], hubspot_legacy("v2"), False),
    (["v1"], hubspot_legacy("v2"), False),
    (["v2"], hubspot_v3, False),
    (["v3", "v2"], hubspot_legacy("v2"), True),
    (["v3", "v2"], lambda b: {**hubspot_v3(b), **hubspot_legacy("v2")(b)}, True),
])
def test_hubspot_signature_versions(versions: list[str], sign: Callable[[bytes], dict[str, str]], ok: bool) -> None:
    hubspot = source("hubspot", secrets=[SECRET], public_url=PUBLIC, signature_versions=versions)
    request = inbound(HUBSPOT, sign(HUBSPOT))
    if ok:
        assert hubspot.verify(request, NOW).delivery_id == "4242"
    else:
        with pytest.raises(VerificationError):
            hubspot.verify(request, NOW)


def test_hubspot_documented_legacy_vectors() -> None:
    """developers.hubspot.com v1/v2 request validation pages: secret yyyyyyyy-..., the given body."""
    from airhook.senders.hubspot import legacy_digest
    secret = b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    body = (b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
            b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
            b'"changeFlag":"NEW","appId":54321}]')
    assert legacy_digest(secret, "v1", "POST", "", body) == \
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert legacy_digest(secret, "v2", "GET", "https://www.example.com/webhook_uri", b"") == \
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"


def test_hubspot_versions_config_is_checked() -> None:
    from airhook.errors import ConfigError
    with pytest.raises(ConfigError, match="signature_versions"):
        source("hubspot", secrets=[SECRET], signature_versions=["v4"])
    with pytest.raises(ConfigError, match="signature_versions"):
        source("hubspot", secrets=[SECRET], signature_versions=[])
