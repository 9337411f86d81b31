"""One id, one log line and one count per request.

`RequestObserver` is the outermost middleware: it opens the request's `RequestContext` (so
every log line of the request carries its id), returns the id as ``X-Request-ID``, and when the
response has ended (a stream: its last line) logs method, route template, status, duration and
user, and counts them in /metrics. A trusted proxy's ``X-Request-ID`` is kept, so nginx's log
and ours name a request alike; anyone else's is replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arena.web.middleware import is_trusted, parse_ip, trusted_networks
from arena.web.observability import context, metrics

logger = logging.getLogger("arena.web.requests")
UNMATCHED: Final = "unmatched"  # no route: 404s of any path count under one label
# RFC 9110's methods and PATCH; anything else a client (or a proxy passing it on) sends counts as
# OTHER, so made-up methods cannot add a series each to /metrics.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER: Final = "other"


def route_template(scope: Scope) -> str:
    """The route that answered, as declared (``/api/conversations/{conversation_id}``)."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED


def method_label(method: str) -> str:
    """The method as a label: a standard one as it is, any other as OTHER."""
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    """The status as a label: a valid HTTP status code, else OTHER."""
    return str(status) if 100 <= status <= 599 else OTHER


class RequestObserver:
    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str] = ()) -> None:
        self.app = app
        self._proxies = trusted_networks(trusted_proxies)

    def _request_id(self, scope: Scope) -> str:
        peer = parse_ip(scope["client"][0]) if scope.get("client") else None
        if peer is not None and self._proxies and is_trusted(peer, self._proxies):
            headers = dict(scope.get("headers") or [])
            forwarded = headers.get(context.REQUEST_ID_HEADER.lower().encode())
            kept = context.forwarded_request_id(forwarded.decode("latin-1") if forwarded else None)
            if kept is not None:
                return kept
        return context.new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = context.RequestContext(
            request_id=self._request_id(scope), method=scope["method"], state=scope.setdefault("state", {})
        )
        token = context.enter(request)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception that escaped everything

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request.request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._finished(scope, request, status, time.perf_counter() - started)
            context.leave(token)

    @staticmethod
    def _finished(scope: Scope, request: context.RequestContext, status: int, seconds: float) -> None:
        route = request.route = route_template(scope)
        metrics.REQUESTS.labels(method_label(request.method), route, status_label(status)).inc()
        metrics.REQUEST_SECONDS.labels(route).observe(seconds)
        app = scope.get("app")
        metrics.refresh_budget_gauges(getattr(getattr(app, "state", None), "generation_budget", None))
        logger.info(
            "%s %s %s %.1f ms",
            request.method,
            route,
            status,
            seconds * 1000,
            extra={"route": route, "status": status, "duration_ms": round(seconds * 1000, 1), "method": request.method},
        )
