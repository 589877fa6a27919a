"""Republish dead letters to the deliveries topic once their cause is fixed.

    python -m airhook.redrive --subscription projects/P/subscriptions/airhook-dead-letter \\
        --topic projects/P/topics/airhook-deliveries [--error dag_not_found] [--max 1000] [--dry-run]

Pulls from the dead-letter topic's pull subscription, republishes each message (same data, so the
same run id: a run that meanwhile exists is a harmless 409) without the failure attributes and with
``airhook_redrives`` counted up and ``airhook_redriven_at`` set (a fresh retry budget), and
acknowledges it only after the publish succeeded. Messages that do not match ``--error`` are given
back untouched, and so are messages whose signature matches none of the signing keys (a forged or
altered message stays a dead letter, listed with ``"refused"``: redrive never puts it back in
front of ``deliver``). Prints one JSON line per message and a summary; exit status 0, or 1 on a Pub/Sub
failure (what was already moved stays moved).

Signing keys: ``$AIRHOOK_SIGNING_KEY`` and, during a rotation, ``$AIRHOOK_SIGNING_KEY_PREVIOUS``
(the values ``delivery.signing_keys`` names; ``--key-env NAME`` reads others).

Credentials: Application Default Credentials (``gcloud auth application-default login``) with
roles/pubsub.subscriber on the subscription and roles/pubsub.publisher on the topic;
``PUBSUB_EMULATOR_HOST`` talks to the emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from .config import TOPIC_PATTERN
from .deliver import without_failure
from .envelope import MalformedEnvelope, rfc3339, verify
from .errors import QueueUnavailable
from .pubsub import Message, PubSub, Received

#: A pull may come back empty while messages remain (Pub/Sub answers fast rather than complete):
#: stop only after this many empty pulls in a row.
EMPTY_PULLS = 3


@dataclass
class Summary:
    redriven: int = 0
    skipped: int = 0
    seen: int = 0
    #: signature matches no key: left on the dead-letter subscription
    refused: int = 0


#: Where the signing keys are read from by default: the names Terraform gives them.
KEY_VARIABLES = ("AIRHOOK_SIGNING_KEY", "AIRHOOK_SIGNING_KEY_PREVIOUS")


def redriven(message: Received, now: float) -> Message:
    """The message as it goes back to the deliveries topic."""
    attributes = without_failure(message.attributes)
    count = attributes.get("airhook_redrives", "0")
    attributes["airhook_redrives"] = str((int(count) if count.isdigit() else 0) + 1)
    attributes["airhook_redriven_at"] = rfc3339(now)
    return Message(message.data, attributes)


def _refusal(message: Received, keys: tuple[bytes, ...]) -> str | None:
    try:
        verify(message.data, message.attributes, keys)
    except MalformedEnvelope as exc:
        return f"{exc.code}: {exc}"
    return None


def redrive(pubsub: PubSub, subscription: str, topic: str, *, keys: tuple[bytes, ...],
            error: str | None = None, limit: int = 1000, dry_run: bool = False, batch: int = 100,
            out: TextIO | None = None, clock: Callable[[], float] = time.time) -> Summary:
    """Move up to ``limit`` dead letters from ``subscription`` to ``topic``; only messages
    signed with one of ``keys``.

    Raises:
        QueueUnavailable: a pull, publish or acknowledge failed.
    """
    out = out if out is not None else sys.stdout
    summary = Summary()
    seen: set[str] = set()
    empty = 0
    while summary.redriven < limit and empty < EMPTY_PULLS:
        pulled = pubsub.pull(subscription, min(batch, limit - summary.redriven))
        fresh = [m for m in pulled if m.message_id not in seen]
        if not fresh:
            # Nothing, or only messages given back earlier in this run: they stay where they are.
            pubsub.release(subscription, [m.ack_id for m in pulled])
            empty += 1
            continue
        empty = 0
        seen.update(m.message_id for m in fresh)
        summary.seen += len(fresh)
        matching = [m for m in fresh if error is None or m.attributes.get("airhook_error") == error]
        refusals = {m.ack_id: _refusal(m, keys) for m in matching}
        chosen = [m for m in matching if refusals[m.ack_id] is None]
        chosen_ids = {m.ack_id for m in chosen}
        others = [m for m in pulled if m.ack_id not in chosen_ids]
        for message in matching:
            refused = refusals[message.ack_id]
            summary.refused += refused is not None
            out.write(json.dumps({"message_id": message.message_id, "dry_run": dry_run,
                                  **({"refused": refused} if refused else {}), **{
                k: v for k, v in message.attributes.items()
                if k.startswith("airhook_") and k != "airhook_signature"}}) + "\n")
        if dry_run:
            pubsub.release(subscription, [m.ack_id for m in pulled])
            summary.skipped += len(fresh)
            continue
        if chosen:
            now = clock()
            pubsub.publish(topic, [redriven(m, now) for m in chosen])
            pubsub.acknowledge(subscription, [m.ack_id for m in chosen])
            summary.redriven += len(chosen)
        summary.skipped += len(fresh) - len(chosen)
        pubsub.release(subscription, [m.ack_id for m in others])
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airhook.redrive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscription", required=True,
                        help="the dead-letter topic's pull subscription, projects/P/subscriptions/S")
    parser.add_argument("--topic", required=True,
                        help="where to republish: delivery.topic, projects/P/topics/T")
    parser.add_argument("--error", default=None,
                        help="only messages with this airhook_error (e.g. dag_not_found)")
    parser.add_argument("--max", type=int, default=1000, dest="limit",
                        help="stop after this many messages (default 1000)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be redriven and give every message back")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per Pub/Sub call")
    parser.add_argument("--key-env", action="append", default=None, metavar="NAME",
                        help="environment variable holding a signing key (repeatable; default: "
                             f"{' and '.join(KEY_VARIABLES)})")
    args = parser.parse_args(argv)
    names = args.key_env or list(KEY_VARIABLES)
    keys = tuple(os.environ[n].encode("utf-8") for n in names if os.environ.get(n))
    if not keys:
        parser.error(f"no signing key: set {' or '.join(names)} (the key delivery.signing_keys names)")
    if not TOPIC_PATTERN.match(args.topic):
        parser.error(f"--topic: expected projects/PROJECT/topics/TOPIC, got {args.topic!r}")
    if args.limit < 1:
        parser.error("--max: at least 1")
    try:
        summary = redrive(PubSub(timeout=args.timeout), args.subscription, args.topic, keys=keys,
                          error=args.error, limit=args.limit, dry_run=args.dry_run)
    except QueueUnavailable as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    print(json.dumps({"redriven": summary.redriven, "skipped": summary.skipped,
                      "refused": summary.refused, "seen": summary.seen, "dry_run": args.dry_run}),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
