"""Airflow 3: the plugin's FastAPI app, mounted by the API server at ``/airhook`` (``fastapi_apps``).

Airflow does not authenticate plugin apps: ``POST /airhook/<source>`` authenticates each delivery
by its signature, ``GET /airhook/_health`` touches nothing, and the page requires an Airflow login
(:mod:`airhook.plugin.page`).
"""

from __future__ import annotations

import json
from typing import Any

import html

import anyio.from_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ..errors import MalformedRequest, PayloadTooLarge
from ..responses import Response
from . import core, page

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


def to_http(response: Response, close: bool = False) -> HttpResponse:
    headers = {"Cache-Control": "no-store", **response.headers}
    if close:
        headers["Connection"] = "close"
    return HttpResponse(json.dumps(response.body, separators=(",", ":")), status_code=response.status,
                        headers=headers, media_type="application/json")


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
        return to_http(response, close=unread)

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
        if exc.status_code == 401 and request.url.path.rstrip("/").endswith("/ui"):
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), 303)
        return HttpResponse(html.escape(str(exc.detail)), exc.status_code, media_type="text/plain")

    @app.get("/ui/", dependencies=[access], include_in_schema=False)
    async def ui(request: Request, source: str = "", delivery: str = "") -> HTMLResponse:
        state = await run_in_threadpool(core.state, 3)
        base = str(request.base_url).rstrip("/")
        body = await run_in_threadpool(page.render, state, source, delivery, base)
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})


app: Any = create_app()

__all__ = ["app", "create_app", "read_limited"]
