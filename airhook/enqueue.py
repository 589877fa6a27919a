"""``receive`` in queue mode: publish a delivery's routed runs to Pub/Sub, all in one request."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .config import DeliveryConfig
from .delivery import Delivery
from .envelope import Envelope
from .errors import PayloadTooLarge
from .pubsub import MAX_PUBLISH_BYTES, PubSub
from .routing import Trigger

#: Room left in a publish request for the JSON around the messages.
_SLACK = 64 * 1024


class Enqueuer:
    """One per instance: the topic and the Pub/Sub client."""

    def __init__(self, config: DeliveryConfig, pubsub: PubSub | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        if config.topic is None:
            raise ValueError("queue mode needs delivery.topic")
        if not config.signing_keys:
            raise ValueError("queue mode needs delivery.signing_keys")
        self.topic = config.topic
        self._key = config.signing_keys[0]  # the first signs; the others only still verify
        self.timeout = config.publish_timeout
        self.pubsub = pubsub if pubsub is not None else PubSub(timeout=config.publish_timeout)
        self.clock = clock

    def enqueue(self, delivery: Delivery, triggers: Sequence[Trigger]) -> list[str]:
        """Publish one message per trigger and return the message ids once Pub/Sub has them.
        One request for all of them: either every run of the delivery is queued or none is, so a
        sender's retry never finds half a delivery queued.

        Raises:
            QueueUnavailable: Pub/Sub did not acknowledge the publish (503, the sender retries).
            PayloadTooLarge: the messages exceed what one publish request may carry.
        """
        accepted_at = self.clock()
        messages = [Envelope.for_trigger(t, delivery, accepted_at).to_message(self._key) for t in triggers]
        size = sum((len(m.data) + 2) // 3 * 4 + sum(len(k) + len(v) for k, v in m.attributes.items())
                   for m in messages)
        if size > MAX_PUBLISH_BYTES - _SLACK:
            # No retry can make it fit: a permanent 413, not a 503 the sender would retry forever.
            raise PayloadTooLarge(f"{len(messages)} queued run(s) need {size} bytes; a Pub/Sub "
                                  f"publish takes at most {MAX_PUBLISH_BYTES}")
        return self.pubsub.publish(self.topic, messages, timeout=self.timeout)
