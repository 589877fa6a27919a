"""Airflow 3: the plugin's FastAPI app, mounted by the API server at ``/airhook`` (``fastapi_apps``).

Airflow does not authenticate plugin apps: ``POST /airhook/<source>`` authenticates each delivery
by its signature, ``GET /airhook/_health`` touches nothing, and the page requires an Airflow login
(:mod:`airhook.plugin.page`).
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

import anyio
import anyio.from_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from ..errors import MalformedRequest, PayloadTooLarge
from ..responses import Response
from . import core, page

#: airhook.http's DRAIN_MAX_BYTES and DRAIN_SECONDS (the function's bounded drain), repeated here:
#: airhook.http imports Flask, which Airflow 3's environment does not have.
DRAIN_MAX_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 5.0

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes whether or not Content-Length was sent."""
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > limit):
        raise PayloadTooLarge(f"Content-Length {length} > {limit}")
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"body exceeds {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise MalformedRequest("client disconnected", public="request body could not be read") from None
    return b"".join(chunks)


class DrainingResponse(HttpResponse):
    """A refusal (413, 404, 405, ...) of a body that was not read, answered as the function does
    (airhook.http.drain): the answer is written at once, then a body of declared length up to
    DRAIN_MAX_BYTES is read and discarded for up to DRAIN_SECONDS, then the connection closes.

    A client without ``Expect: 100-continue`` (http.client, urllib) writes its whole body before it
    reads: closed early, it gets ECONNRESET/EPIPE instead of the 413. uvicorn answers
    ``http.disconnect`` to every ``receive()`` once the response is complete, so the answer's bytes
    (Content-Length included) go first with ``more_body``, the drain runs, and the empty last part
    ends the response."""

    def __init__(self, *args: Any, drain_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        await drain(receive, self.drain_bytes)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def drain(receive: Receive, length: int, *, max_bytes: int = DRAIN_MAX_BYTES,
                seconds: float = DRAIN_SECONDS) -> bool:
    """Discard the rest of a request body of declared ``length`` (never held), if it is at most
    ``max_bytes``, for at most ``seconds``. True when the body was read to the end."""
    if length > max_bytes:
        return False
    deadline = time.monotonic() + seconds
    with anyio.move_on_after(seconds):
        while time.monotonic() < deadline:
            message = await receive()
            if message["type"] != "http.request":
                return False  # the client went away
            if not message.get("more_body", False):
                return True
    return False


def to_http(response: Response, close: bool = False, drain_bytes: int | None = None) -> HttpResponse:
    headers = {"Cache-Control": "no-store", **response.headers}
    if close:
        headers["Connection"] = "close"
    content = json.dumps(response.body, separators=(",", ":"))
    if close and drain_bytes is not None:
        return DrainingResponse(content, status_code=response.status, headers=headers,
                                media_type="application/json", drain_bytes=drain_bytes)
    return HttpResponse(content, status_code=response.status, headers=headers, media_type="application/json")


def _declared_length(headers: dict[str, str]) -> int | None:
    length = headers.get("content-length", "")
    if length.isascii() and length.isdigit() and len(length) <= 18:
        return int(length)
    return None


def create_app() -> FastAPI:
    app = FastAPI(title="airhook", docs_url=None, redoc_url=None, openapi_url=None)

    install_page(app)  # before /{source}: "ui" is not a source

    @app.api_route("/{source}", methods=METHODS, include_in_schema=False)
    async def webhook(source: str, request: Request) -> HttpResponse:
        state = await run_in_threadpool(core.state, 3)
        headers = {key.lower(): value for key, value in request.headers.items()}
        read: list[bool] = []

        def read_body(limit: int) -> bytes:
            body = anyio.from_thread.run(read_limited, request, limit)
            read.append(True)
            return body

        # In a worker thread: verifying is CPU and triggering is Airflow's synchronous ORM.
        response = await run_in_threadpool(state.handle, request.method, source, headers, read_body,
                                           request.url.query, str(request.url))
        unread = not read and ("content-length" in headers or "transfer-encoding" in headers)
        # Chunked bodies have no declared length: answered at once and closed, as the function.
        return to_http(response, close=unread, drain_bytes=_declared_length(headers))

    return app


def install_page(app: FastAPI) -> None:
    """``GET /airhook/ui/`` behind the auth manager, with the permission ``GET .../dagRuns``
    requires; without a login the browser is sent to Airflow's login page and back."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    access = Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN))

    @app.exception_handler(HTTPException)
    async def to_login(request: Request, exc: HTTPException) -> HttpResponse:
        if request.url.path.rstrip("/").endswith("/ui") and _needs_login(exc):
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), 303)
        return HttpResponse(html.escape(str(exc.detail)), exc.status_code, media_type="text/plain")

    @app.api_route("/ui", methods=["GET", "HEAD"], include_in_schema=False)
    async def ui_slash(request: Request) -> RedirectResponse:
        # Without it "ui" would be taken for a source name by /{source} (a 405 "only POST").
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{request.url.path}/{query}", 308)

    @app.get("/ui/", dependencies=[access], include_in_schema=False)
    async def ui(request: Request, source: str = "", delivery: str = "") -> HTMLResponse:
        state = await run_in_threadpool(core.state, 3)
        base = str(request.base_url).rstrip("/")
        body = await run_in_threadpool(page.render, state, source, delivery, base)
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})


#: What airflow.api_fastapi.core_api.security.resolve_user_from_token answers (3.x) to a token it
#: cannot decode (a stale or tampered ``_token`` cookie): a 403, not the 401 of no token or an
#: expired one. A logged-in user without the permission gets another 403, which stays a 403.
INVALID_TOKEN = "Invalid JWT token"


def _needs_login(exc: HTTPException) -> bool:
    """No login, an expired one, or a cookie that is not a valid token: the login page."""
    return bool(exc.status_code == 401 or (exc.status_code == 403 and exc.detail == INVALID_TOKEN))


app: Any = create_app()

__all__ = ["DrainingResponse", "app", "create_app", "drain", "read_limited"]
