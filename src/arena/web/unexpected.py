"""Every unexpected error is a JSON answer, never Starlette's plain-text 500.

A database that fails (restarted, full disk, read-only) is a 503 with Retry-After: the request
may be tried again (a full disk says so: only freeing space helps). Anything else is a 500 whose body carries the request's id (the one
`RequestObserver` gave it, also in X-Request-ID and on every log line of the request). The log names the exception type and where it was raised, but not its message:
that may quote what the user sent.
"""

from __future__ import annotations

import logging
import traceback
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arena.storage.failures import is_database_failure, is_disk_full, reason
from arena.web.observability.context import current_request_id
from arena.web.observability.hooks import observe_error

logger = logging.getLogger(__name__)
RETRY_AFTER_S: Final = 5
INTERNAL_ERROR: Final = "internal server error; the server log has the details under this request id"
DATABASE_DOWN: Final = "the database is unavailable just now; try again shortly"
DISK_FULL: Final = "the database's disk is full: nothing can be saved until the server's admin frees space"


def where_raised(exc: BaseException) -> str:
    """The traceback's frames, without the exception's message."""
    return "\n" + "".join(traceback.format_tb(exc.__traceback__)).rstrip()


def unexpected_response(method: str, path: str, exc: Exception) -> JSONResponse:
    request_id = current_request_id()
    headers = {"X-Request-ID": request_id}
    observe_error(exc)  # a database failure is counted in /metrics
    if is_database_failure(exc):
        logger.error("request %s (%s %s): the database failed: %s", request_id, method, path, reason(exc))
        headers["Retry-After"] = str(RETRY_AFTER_S)
        message = DISK_FULL if is_disk_full(exc) else DATABASE_DOWN
        return JSONResponse({"error": message, "request_id": request_id}, status_code=503, headers=headers)
    logger.error("request %s (%s %s) failed: %s%s", request_id, method, path, type(exc).__name__, where_raised(exc))
    return JSONResponse({"error": INTERNAL_ERROR, "request_id": request_id}, status_code=500, headers=headers)


class JsonErrors:
    """Turns an exception a route let through into a JSON answer (inside the security headers'
    middleware, so the answer gets them). Once a response has started, nothing can replace it:
    a stream's own code ends its instances with error lines (web/streaming.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            await unexpected_response(scope["method"], scope["path"], exc)(scope, receive, send)


def install_unexpected_errors(app: FastAPI) -> None:
    """The middleware, and the same answer for anything raised outside it."""
    app.add_middleware(JsonErrors)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_response(request.method, request.url.path, exc)
