"""The queue mode's message: one routed run, waiting in Pub/Sub for ``deliver``.

The data is JSON holding everything ``deliver`` needs to trigger the run (DAG id or asset, run id,
conf, note) and the delivery it came from (source, event, delivery id, when it was accepted). It
never holds the webhook secret, the raw body or the request headers: ``conf`` is only what the
route chose to pass. The same facts are repeated as ``airhook_*`` attributes so a dead letter can be
read (and filtered) without decoding it.

The data is signed (``airhook_signature``: HMAC-SHA256 with a key only ``receive``, ``deliver``
and ``redrive`` hold, :func:`sign`), because anyone who may publish to the topic or invoke
``deliver`` must not be able to choose a DAG, a run id or a conf: ``deliver`` and ``redrive``
verify the signature (:func:`verify`) before they read the data, and ``deliver`` also checks that
the message's (route, DAG) pair is one the routes file has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias, get_args

from .config import DAG_ID_PATTERN, RUN_ID_PATTERN, AssetTarget, DagTarget, Target
from .delivery import Delivery
from .pubsub import Message, attribute
from .routing import MAX_RUN_ID, Trigger

VERSION = 1
#: What a message asks ``deliver`` to create: a DAG run or an asset event (its ``kind``).
EnvelopeKind: TypeAlias = Literal["dag_run", "asset_event"]
KINDS: tuple[EnvelopeKind, ...] = get_args(EnvelopeKind)
#: Attributes airhook sets on its own messages; everything it adds later (dead-letter reasons,
#: renewal and redrive counts) starts with the same prefix.
PREFIX = "airhook_"


#: The attribute that carries the data's signature: ``v1=<base64 HMAC-SHA256>``.
SIGNATURE_ATTRIBUTE = "airhook_signature"
_SCHEME = "v1="
#: Bound into every MAC, so that a key reused elsewhere (it should not be) signs nothing else.
_CONTEXT = b"airhook-envelope-v1\n"


class MalformedEnvelope(ValueError):
    """The message is not one airhook published (or not one this version understands)."""

    code = "malformed_message"


class UnsignedEnvelope(MalformedEnvelope):
    """The message carries no signature: nobody vouches for what it asks to run."""

    code = "unsigned_message"


class BadEnvelopeSignature(MalformedEnvelope):
    """The signature matches none of the keys: forged, altered, or signed with a retired key."""

    code = "bad_message_signature"


def sign(data: bytes, key: bytes) -> str:
    """The ``airhook_signature`` attribute value for ``data``."""
    mac = hmac.new(key, _CONTEXT + data, hashlib.sha256).digest()
    return _SCHEME + base64.b64encode(mac).decode("ascii")


def verify(data: bytes, attributes: Mapping[str, str], keys: tuple[bytes, ...]) -> None:
    """Check the data's signature against every key (rotation: any one may match).

    Raises:
        UnsignedEnvelope: no ``airhook_signature`` attribute (or no key to check it with).
        BadEnvelopeSignature: it matches no key.
    """
    given = attributes.get(SIGNATURE_ATTRIBUTE)
    if not given:
        raise UnsignedEnvelope(f"the message has no {SIGNATURE_ATTRIBUTE} attribute")
    if not keys:
        raise UnsignedEnvelope("no signing key is configured to check the message with")
    encoded = given.encode("utf-8", "replace")
    # compare_digest on bytes, with every key (no early exit that would time which one matched)
    matched = [hmac.compare_digest(sign(data, key).encode("ascii"), encoded) for key in keys]
    if not any(matched):
        raise BadEnvelopeSignature("the message signature matches no signing key")


def rfc3339(epoch: float) -> str:
    """``2024-05-01T10:00:00.123Z``: how airhook writes times into messages."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> float:
    """Epoch seconds of an RFC 3339 time such as Pub/Sub's ``publishTime``
    (``2024-05-01T10:00:00.123456789Z``: Python reads at most microseconds)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class Envelope:
    route: str
    dag_id: str | None
    dag_run_id: str
    conf: Mapping[str, Any]
    note: str | None
    source: str
    event: str
    delivery_id: str
    #: epoch seconds when ``receive`` accepted the delivery: the retry budget counts from here,
    #: across renewals and redrives
    accepted_at: float
    asset: str | None = None

    @property
    def kind(self) -> EnvelopeKind:
        return "dag_run" if self.asset is None else "asset_event"

    @property
    def target(self) -> Target:
        """The DAG or the asset, as the trigger names it. The message's data holds both keys (the
        other one null), so the envelope mirrors them; :meth:`from_data` refuses a ``dag_run``
        without a valid DAG id, so ``dag_id`` is set whenever ``asset`` is not."""
        return AssetTarget(self.asset) if self.asset is not None else DagTarget(self.dag_id or "")

    # ------------------------------------------------------------------------------------ build

    @classmethod
    def for_trigger(cls, trigger: Trigger, delivery: Delivery, accepted_at: float) -> Envelope:
        return cls(route=trigger.route, dag_id=trigger.dag_id, dag_run_id=trigger.dag_run_id,
                   conf=trigger.conf, note=trigger.note, source=delivery.source,
                   event=delivery.event, delivery_id=delivery.delivery_id,
                   accepted_at=accepted_at, asset=trigger.asset)

    def trigger(self) -> Trigger:
        """The run to create, exactly as ``receive`` routed it."""
        return Trigger(route=self.route, target=self.target, dag_run_id=self.dag_run_id,
                       conf=dict(self.conf), note=self.note)

    def attributes(self) -> dict[str, str]:
        target: dict[str, str | None] = ({"airhook_asset": self.asset} if self.asset is not None
                                         else {"airhook_dag_id": self.dag_id})
        return {key: attribute(value) for key, value in {
            "airhook_kind": self.kind, "airhook_source": self.source, "airhook_event": self.event,
            "airhook_delivery_id": self.delivery_id, "airhook_route": self.route, **target,
            "airhook_dag_run_id": self.dag_run_id,
            "airhook_accepted_at": rfc3339(self.accepted_at)}.items()}

    def to_message(self, key: bytes) -> Message:
        """The message to publish, its data signed with ``key``."""
        data = {"v": VERSION, "kind": self.kind, "route": self.route, "dag_id": self.dag_id,
                "dag_run_id": self.dag_run_id, "conf": dict(self.conf), "note": self.note,
                "source": self.source, "event": self.event, "delivery_id": self.delivery_id,
                "accepted_at": rfc3339(self.accepted_at)}
        if self.asset is not None:
            data["asset"] = self.asset
        encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return Message(encoded, {**self.attributes(), SIGNATURE_ATTRIBUTE: sign(encoded, key)})

    # ------------------------------------------------------------------------------------ read

    @classmethod
    def from_data(cls, data: bytes) -> Envelope:
        """Decode and check a message's data.

        Raises:
            MalformedEnvelope: naming the first problem (never echoing the data).
        """
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise MalformedEnvelope("data is not JSON") from None
        if not isinstance(doc, dict):
            raise MalformedEnvelope("data is not a JSON object")
        if doc.get("v") != VERSION:
            raise MalformedEnvelope(f"unknown envelope version {str(doc.get('v'))[:20]!r}")
        kind = doc.get("kind")
        if kind not in KINDS:
            raise MalformedEnvelope(f"unknown kind {str(kind)[:40]!r}")
        strings = {}
        for key in ("route", "dag_run_id", "source", "event", "delivery_id", "accepted_at"):
            value = doc.get(key)
            if not isinstance(value, str) or not value:
                raise MalformedEnvelope(f"{key}: expected a non-empty string")
            strings[key] = value
        dag_id, asset = doc.get("dag_id"), doc.get("asset")
        if kind == "dag_run" and (not isinstance(dag_id, str) or not DAG_ID_PATTERN.match(dag_id)):
            raise MalformedEnvelope("dag_id: not a valid Airflow DAG id")
        if kind == "asset_event" and (not isinstance(asset, str) or not asset):
            raise MalformedEnvelope("asset: expected a non-empty string")
        run_id = strings["dag_run_id"]
        if not RUN_ID_PATTERN.match(run_id) or len(run_id) > MAX_RUN_ID:
            raise MalformedEnvelope("dag_run_id: not a valid Airflow run id")
        conf, note = doc.get("conf"), doc.get("note")
        if not isinstance(conf, dict):
            raise MalformedEnvelope("conf: expected a JSON object")
        if note is not None and not isinstance(note, str):
            raise MalformedEnvelope("note: expected a string or null")
        try:
            accepted_at = parse_timestamp(strings["accepted_at"])
        except ValueError:
            raise MalformedEnvelope("accepted_at: not an RFC 3339 time") from None
        return cls(route=strings["route"], dag_id=dag_id if isinstance(dag_id, str) else None,
                   dag_run_id=run_id, conf=conf, note=note, source=strings["source"],
                   event=strings["event"], delivery_id=strings["delivery_id"],
                   accepted_at=accepted_at, asset=asset if kind == "asset_event" else None)

    def describe(self) -> dict[str, Any]:
        """The run as logs show it (never the conf: it may hold payload data)."""
        target: dict[str, str | None] = ({"asset": self.asset} if self.asset is not None
                                         else {"dag_id": self.dag_id})
        return {"route": self.route, **target, "dag_run_id": self.dag_run_id,
                "source": self.source, "event": self.event, "delivery_id": self.delivery_id}


__all__ = ["BadEnvelopeSignature", "Envelope", "MalformedEnvelope", "PREFIX", "SIGNATURE_ATTRIBUTE",
           "UnsignedEnvelope", "parse_timestamp", "rfc3339", "sign", "verify"]
