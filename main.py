"""Cloud Functions entry points. The logic lives in the ``airhook`` package."""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http import CloudEvent

from airhook.http import deliver_event, deliverer_for, handle, receiver_from_environment

# Built once per instance: config, HTTP connections, credentials.
_receiver = receiver_from_environment()


@functions_framework.http
def receive(request: flask.Request) -> flask.Response:
    """Webhooks: ``POST /<source>`` verifies, routes and triggers DAG runs."""
    return handle(_receiver, request)


@functions_framework.cloud_event
def deliver(event: CloudEvent) -> None:
    """Queue mode: one run queued by ``receive``, pushed by Pub/Sub (or Eventarc); triggers it.
    Returning acknowledges the message; a 503 makes Pub/Sub redeliver it with backoff."""
    deliver_event(deliverer_for(_receiver), event)
