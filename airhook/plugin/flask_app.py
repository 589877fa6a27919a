"""Airflow 2: the plugin's Flask blueprint on the webserver at ``/airhook`` (``flask_blueprints``).

The webserver's CSRF protection (Flask-WTF) would refuse every webhook: the blueprint is exempted
when it is registered. Deliveries authenticate by signature; the page requires a login
(:mod:`airhook.plugin.page`).
"""

from __future__ import annotations

import flask
import werkzeug

from ..http import drain, read_limited, to_flask
from . import core

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

blueprint = flask.Blueprint("airhook", __name__, url_prefix="/airhook")


@blueprint.record_once
def _exempt_from_csrf(setup: flask.blueprints.BlueprintSetupState) -> None:
    csrf = setup.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)
    core.state(2)  # load the config when the webserver starts: a bad one is logged at once


@blueprint.route("/ui", methods=["GET", "HEAD"])
@blueprint.route("/ui/", methods=["GET", "HEAD"])
def ui() -> werkzeug.Response:
    """Airflow 2's page is the appbuilder view at ``/airhook-ui/`` (airhook.plugin.page); ``ui``
    is not a source name, as on Airflow 3 where the page is ``/airhook/ui/``."""
    query = flask.request.query_string.decode("latin-1")
    return flask.redirect(flask.request.script_root + "/airhook-ui/" + (f"?{query}" if query else ""), 308)


@blueprint.route("/<path:source>", methods=METHODS)
def webhook(source: str) -> flask.Response:
    request = flask.request
    state = core.state(2)
    headers = {key.lower(): value for key, value in request.headers.items()}
    read: list[bool] = []

    def read_body(limit: int) -> bytes:
        body = read_limited(request, limit)
        read.append(True)
        return body

    response = to_flask(state.handle(request.method, source, headers, read_body,
                                     query=request.query_string.decode("latin-1"), url=request.url))
    if not read and (request.content_length or "chunked" in headers.get("transfer-encoding", "")):
        # A refused body is not buffered: as the function (airhook.http.handle), the answer goes
        # first, then a body of declared length up to DRAIN_MAX_BYTES is discarded for up to
        # DRAIN_SECONDS (a client that sends it all before reading gets the 413, not a reset),
        # and the connection closes.
        request._cached_data = b""
        # wsgi.input (gunicorn's reader, bounded by Content-Length), not request.stream: the
        # webserver sets MAX_CONTENT_LENGTH ([webserver] allowed_payload_size, 1 MiB), and werkzeug
        # 3 raises RequestEntityTooLarge on touching request.stream of a longer body.
        stream, length = request.environ.get("wsgi.input"), request.content_length
        sock = request.environ.get("gunicorn.socket")
        response.call_on_close(lambda: drain(stream, length, sock))
        response.headers["Connection"] = "close"
    return response


__all__ = ["blueprint"]
