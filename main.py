"""Cloud Functions entry points. The logic lives in the ``airhook`` package."""

from __future__ import annotations

import flask
import functions_framework

from airhook.http import handle, receiver_from_environment

# Built once per instance: config, HTTP pool, credentials.
_receiver = receiver_from_environment()


@functions_framework.http
def receive(request: flask.Request) -> flask.Response:
    """Webhooks: ``POST /<source>`` verifies, routes and triggers DAG runs."""
    return handle(_receiver, request)
