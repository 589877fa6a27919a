"""Example payloads for ``airhook send --example NAME``: a few realistic deliveries per sender
type, shaped like the sender's own documentation shows them. The first one of a type is its
default. Event names here are those a header carries (GitHub's ``X-GitHub-Event``, ...); senders
that name the event in the body carry it in the payload."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..output import CliError

HERE = Path(__file__).resolve().parent
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Example:
    name: str
    file: str
    summary: str
    event: str | None = None
    content_type: str = JSON

    def read(self, kind: str) -> bytes:
        return (HERE / kind / self.file).read_bytes()


CATALOGUE: dict[str, tuple[Example, ...]] = {
    "github": (
        Example("push", "push.json", "a push to main", "push"),
        Example("pull-request-merged", "pull-request-merged.json", "a pull request merged into main", "pull_request"),
        Example("release-published", "release-published.json", "a release published", "release"),
    ),
    "stripe": (
        Example("invoice-paid", "invoice-paid.json", "invoice.paid"),
        Example("checkout-completed", "checkout-completed.json", "checkout.session.completed"),
        Example("payment-failed", "payment-failed.json", "payment_intent.payment_failed"),
    ),
    "slack": (
        Example("app-mention", "app-mention.json", "an Events API app_mention"),
        Example("slash-command", "slash-command.txt", "the /deploy slash command (a form)", content_type=FORM),
        Example("url-verification", "url-verification.json", "the handshake Slack sends for a new Request URL"),
    ),
    "standard-webhooks": (
        Example("user-created", "user-created.json", "Clerk's user.created"),
        Example("email-delivered", "email-delivered.json", "Resend's email.delivered"),
    ),
    "svix": (
        Example("user-updated", "user-updated.json", "Clerk's user.updated, through Svix"),
        Example("session-created", "session-created.json", "Clerk's session.created, through Svix"),
    ),
    "gitlab": (
        Example("push", "push.json", "a push to main", "Push Hook"),
        Example("merge-request-merged", "merge-request-merged.json", "a merge request merged", "Merge Request Hook"),
        Example("pipeline-succeeded", "pipeline-succeeded.json", "a pipeline on main passed", "Pipeline Hook"),
    ),
    "bitbucket": (
        Example("push", "push.json", "a push to main", "repo:push"),
        Example("pull-request-merged", "pull-request-merged.json", "a pull request merged", "pullrequest:fulfilled"),
    ),
    "jira": (
        Example("issue-created", "issue-created.json", "jira:issue_created"),
        Example("issue-approved", "issue-approved.json", "jira:issue_updated, status to Approved"),
    ),
    "shopify": (
        Example("order-created", "order-created.json", "orders/create", "orders/create"),
        Example("product-updated", "product-updated.json", "products/update", "products/update"),
    ),
    "linear": (
        Example("issue-created", "issue-created.json", "Issue.create"),
        Example("comment-created", "comment-created.json", "Comment.create"),
    ),
    "pagerduty": (
        Example("incident-triggered", "incident-triggered.json", "incident.triggered"),
        Example("incident-resolved", "incident-resolved.json", "incident.resolved"),
    ),
    "zendesk": (
        Example("ticket-created", "ticket-created.json", "an event webhook: zen:event-type:ticket.created"),
        Example("trigger", "trigger.json", "a trigger webhook with a body of your own"),
    ),
    "hubspot": (
        Example("contact-created", "contact-created.json", "contact.creation"),
        Example("deal-stage-changed", "deal-stage-changed.json", "deal.propertyChange (dealstage)"),
    ),
    "twilio": (
        Example("sms-received", "sms-received.txt", "an incoming SMS (a form)", content_type=FORM),
        Example("message-status", "message-status.txt", "a message status callback (a form)", content_type=FORM),
    ),
    "hmac": (
        Example("deploy-finished", "deploy-finished.json", "a deploy tool's deploy.finished"),
        Example("alert-fired", "alert-fired.json", "a monitoring tool's alert.fired"),
    ),
    "token": (
        Example("backfill", "backfill.json", "a manual backfill request"),
        Example("rerun", "rerun.json", "a manual rerun request"),
    ),
    "google-oidc": (
        Example("scheduler-tick", "scheduler-tick.json", "a Cloud Scheduler job's tick", "nightly-etl"),
        Example("pubsub-push", "pubsub-push.json", "a Pub/Sub push (a Cloud Storage object finalized)"),
        Example("manual", "manual.json", "a manual request"),
    ),
}


def for_type(kind: str) -> tuple[Example, ...]:
    return CATALOGUE.get(kind, ())


def find(kind: str, name: str | None) -> Example:
    """The example ``name`` of sender type ``kind`` (its first when ``name`` is None).

    Raises:
        CliError: no such example; the message lists the ones there are.
    """
    examples = for_type(kind)
    if not examples:
        raise CliError(f"no examples for sender type {kind!r}; give --payload FILE")
    if name is None:
        return examples[0]
    for example in examples:
        if example.name == name:
            return example
    names = ", ".join(e.name for e in examples)
    raise CliError(f"no example {name!r} for {kind}; there are: {names}")
