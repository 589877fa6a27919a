"""What a sender is answered: how much the body reveals, and in the form the sender expects.

The pipeline builds one summary per request (the delivery id, the event, each run's DAG and run id);
this module decides what of it goes on the wire, in one place:

- **Disclosure** (per source, ``response: full | minimal``): ``full`` (the default) answers the
  summary; ``minimal`` answers only the delivery id and the outcome (and, for errors, the code and
  public message). Several senders show response bodies to people other than airhook's operators:
  GitHub's *Recent Deliveries* to every admin of the repository or organisation, GitLab's *Recent
  events* to the project's maintainers, Bitbucket's request history, Stripe's Dashboard, Svix's App
  Portal. ``full`` is the default because those people are the ones who configured the webhook, and
  the summary holds nothing they did not send but the route and DAG names and the run ids (which
  let them find the run); ``minimal`` is for a source whose admins should not learn those.
- **Senders that display or parse the body** (audit in docs/security.md):

  - Slack slash commands: Slack shows the body to the person who typed the command, so it gets
    an ephemeral Slack message (``response_type: ephemeral``), not JSON with ids.
    https://api.slack.com/interactivity/slash-commands#responding_to_commands
  - Slack interactivity (buttons, shortcuts, modals): Slack reads the body as an instruction
    (``response_action`` for ``view_submission``, ``options`` for ``block_suggestion``), so it gets
    an empty acknowledgment. https://api.slack.com/interactivity/handling#acknowledgment_response
  - Twilio's form webhooks (incoming SMS and calls): Twilio parses the body as TwiML and logs error
    12300 for any other content type, so it gets an empty ``<Response/>`` as ``text/xml`` (no
    reply message, the call ends). https://www.twilio.com/docs/errors/12300
    Twilio's JSON callbacks read only the status and keep JSON.

  Only successes are reshaped: an error keeps its status and short JSON reason (Slack and Twilio
  report a non-2xx answer as failed whatever its body says).

Handshakes (GitHub ``ping``, Slack ``url_verification``) and operator dry runs are answered as the
pipeline built them: their body is part of a protocol or is the point of the request.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias, get_args

from .body import FORM_TYPE
from .delivery import Delivery
from .errors import AirhookError, ConfigError

#: A source's ``response:`` option: how much its answers reveal.
Disclosure: TypeAlias = Literal["full", "minimal"]
DISCLOSURES: tuple[Disclosure, ...] = get_args(Disclosure)
DEFAULT_DISCLOSURE: Disclosure = "full"

#: What became of one request, as ``receive`` logs it and a ``minimal`` answer says it: the
#: delivery's runs were created (``queued``), all existed (``duplicate``), were published for
#: ``deliver`` (``accepted``); or nothing was triggered, and why.
ReceiveOutcome: TypeAlias = Literal[
    "queued", "duplicate", "accepted", "no_route", "dry_run", "handshake", "queue_unavailable",
    "airflow_unavailable", "airflow_error", "rejected", "internal_error"]

#: An empty TwiML document: Twilio replies nothing to the SMS and ends the call.
TWIML_EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


@dataclass(frozen=True)
class Response:
    """An answer. ``body`` is the JSON document; ``content``, when set, is sent instead of it, as
    ``media_type`` (TwiML, an empty Slack acknowledgment)."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    media_type: str = "application/json"


def disclosure_option(value: Any, where: str) -> Disclosure:
    """The ``response:`` key of a source (``where`` locates it in errors)."""
    if value not in DISCLOSURES:
        raise ConfigError(f"{where}.response: expected one of {', '.join(DISCLOSURES)}")
    disclosure: Disclosure = value
    return disclosure


def present(response: Response, *, sender: str | None, disclosure: Disclosure,
            delivery: Delivery | None, outcome: ReceiveOutcome | None, content_type: str = "") -> Response:
    """The answer as the sender gets it.

    Args:
        response: the pipeline's answer (the full summary, or an error).
        sender: the source's sender type (``slack``), None when no source was found.
        disclosure: the source's ``response:`` option.
        delivery: the verified delivery, None when verification did not succeed.
        outcome: the logged outcome (``queued``, ``duplicate``, ``accepted``, ``no_route``, ...).
        content_type: the request's media type, without parameters.
    """
    if delivery is not None and (delivery.reply is not None or outcome == "dry_run"):
        return response
    if response.status >= 300:
        if disclosure == "minimal":
            # The class's fixed message, never an instance's detailed one (which may name a route,
            # a conf key or a DAG: what minimal sources keep from the people who see answers).
            body = {k: v for k, v in response.body.items() if k in ("error", "delivery_id")}
            body["message"] = _fixed_messages().get(str(body.get("error")), "request refused")
            return replace(response, body=body)
        return response
    if delivery is None:
        return response
    if sender == "slack" and content_type == FORM_TYPE:
        if "command" in _fields(delivery.body):
            return replace(response, body=_slack_message(response.body, disclosure, outcome))
        return replace(response, body={}, content=b"", media_type="text/plain")
    if sender == "twilio" and content_type == FORM_TYPE:
        return replace(response, body={}, content=TWIML_EMPTY, media_type="text/xml")
    if disclosure == "minimal":
        return replace(response, body={"delivery_id": delivery.delivery_id, "outcome": outcome})
    return response


@functools.cache
def _fixed_messages() -> Mapping[str, str]:
    """Each error code's class-level public message (the one that names nothing of the config)."""
    found: dict[str, str] = {}
    pending: list[type[AirhookError]] = [AirhookError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls.public)
        pending.extend(cls.__subclasses__())
    return found


def _fields(body: Any) -> Mapping[str, Any]:
    return body if isinstance(body, Mapping) else {}


_SAID: dict[ReceiveOutcome | None, str] = {
    "queued": "Started",
    "duplicate": "Already started",
    "accepted": "Accepted, starting shortly",
}


def _slack_message(summary: Mapping[str, Any], disclosure: Disclosure,
                   outcome: ReceiveOutcome | None) -> dict[str, Any]:
    """An ephemeral message (only the person who typed the command sees it) in Slack's text format:
    ``&``, ``<`` and ``>`` escaped, as Slack requires of text it should not read as markup.
    https://api.slack.com/reference/surfaces/formatting#escaping"""
    runs = summary.get("runs") or []
    if outcome == "no_route" or not runs:
        text = "Received; nothing is configured to run for it."
    elif disclosure == "minimal":
        text = f"{_SAID.get(outcome, 'Received')}."
    else:
        names = ", ".join(_escape(str(run.get("dag_id") or run.get("asset") or run.get("route"))) for run in runs)
        text = f"{_SAID.get(outcome, 'Received')}: {names}."
    return {"response_type": "ephemeral", "text": text}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["DEFAULT_DISCLOSURE", "DISCLOSURES", "Disclosure", "ReceiveOutcome", "Response", "TWIML_EMPTY",
           "disclosure_option", "present"]
