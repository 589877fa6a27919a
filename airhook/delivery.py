"""Values that flow through the pipeline: the raw inbound request and the verified delivery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MalformedRequest

#: Event names are short labels (GitHub's longest is ~40 characters, Zendesk's ~60). A longer one is
#: refused: it would reach the run's note, routes' logs and answers (GitHub's event header is not
#: signed, and Stripe's signed ``type`` has no length limit).
MAX_EVENT = 200

@dataclass(frozen=True)
class Inbound:
    """An HTTP request as the verifiers see it: framework-free, headers lower-cased once."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    query: str = ""
    url: str = ""

    def header(self, name: str) -> str | None:
        """The header's value, or None when it is absent or empty (an empty header is no value)."""
        value = self.headers.get(name)
        return value if value else None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``application/json``)."""
        value = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: what routing evaluates.

    ``reply`` is set for handshakes (GitHub ``ping``, Slack ``url_verification``): the receiver
    answers it with 200 and routes nothing.
    """

    source: str
    event: str
    delivery_id: str
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    reply: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.event) > MAX_EVENT:
            raise MalformedRequest(f"event name of {len(self.event)} characters",
                                   public=f"event name is longer than {MAX_EVENT} characters")

    def document(self) -> dict[str, Any]:
        """The document JMESPath expressions are evaluated over."""
        return {
            "body": self.body,
            "headers": self.headers,  # read-only for JMESPath: no copy per delivery
            "source": self.source,
            "event": self.event,
            "delivery_id": self.delivery_id,
            **self.extra,
        }
