"""The ASGI middleware around every request: a cap on the body's size, bounds on a JSON body's
depth and numbers, and the browser guard (Host allow-list, refusal of cross-site changes,
security headers on every response).

Pure helpers (`host_name`, `allowed_hosts`, `is_cross_site`) plus thin ASGI glue; `app.py`
adds the middleware.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arena.web.bounded_json import JsonTooComplex, check_json_bounds


class BodySizeLimit:
    """Answer 413 before reading a body over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"error": too_large_message(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def too_large_message(max_bytes: int) -> str:
    return f"Request body too large: the limit is {max_bytes} bytes"


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reader passes it on as a 413 instead of a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(max_bytes))


# --- JSON bodies: bounded before any parser sees them --------------------------------------


def _is_json(scope: Scope) -> bool:
    """The bodies FastAPI parses as JSON: no content type, application/json or application/*+json."""
    declared = dict(scope.get("headers") or []).get(b"content-type")
    if declared is None:
        return True
    media = declared.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class JsonBounds:
    """400 for a JSON body nested too deep or with too long a number, before it is parsed
    (web/bounded_json.py says why). Runs inside BodySizeLimit, so what it holds is bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: no one to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_json_bounds(body.decode(json.detect_encoding(body)))
        except UnicodeDecodeError:
            pass  # not text at all: the parser's own error says so
        except JsonTooComplex as exc:
            await _refuse(send, 400, str(exc))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # later calls wait for the disconnect, as before
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


# --- what reaches (and may come from) a browser -------------------------------------------

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI starts itself with an inline script; only /docs gets that allowance.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(host_header: str) -> str:
    """`example.org:7860` → `example.org`, `[::1]:7860` → `::1`, lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: reachable from this machine only."""
    name = host_name(address)
    return name == "localhost" or name == "::1" or name.startswith("127.")


def allowed_hosts(*, bind: str, extra: list[str]) -> frozenset[str] | None:
    """Names the Host header may carry (defeats DNS rebinding); None = any, when bound to every
    interface with no names configured (the user chose exposure; `arena serve` asks for auth there)."""
    names = {host_name(name) for name in extra if name.strip()}
    if bind in ("0.0.0.0", "::") and not names:
        return None
    return frozenset(names | LOOPBACK_NAMES | {host_name(bind)})


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def is_cross_site(
    *, method: str, origin: str | None, fetch_site: str | None, host: str, trusted: frozenset[str] = frozenset()
) -> bool:
    """A state-changing request that a page on another site made the browser send.

    Browsers send `Sec-Fetch-Site` and `Origin`; scripts and curl send neither and pass. Origins
    in `trusted` (ARENA_CORS_ORIGINS) are the user's own other front ends and pass too.
    """
    if method.upper() not in UNSAFE_METHODS:
        return False
    if origin is not None and normalize_origin(origin) in trusted:
        return False
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return True
    if origin is not None:
        netloc = origin.split("://", 1)[-1].rstrip("/").lower()
        return origin == "null" or netloc != host.strip().lower()
    return False


class BrowserGuard:
    """Host allow-list, refusal of cross-site state changes, and safe headers on every response."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str] | None, trusted_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.hosts = hosts
        self.trusted_origins = trusted_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            await _refuse(send, 400, f"Host {host_name(host)!r} is not served here (set ARENA_ALLOWED_HOSTS to allow it)")
            return
        if is_cross_site(
            method=scope["method"],
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            host=host,
            trusted=self.trusted_origins,
        ):
            await _refuse(send, 403, "Cross-site request refused: the arena only takes changes from its own pages")
            return
        policy = DOCS_CONTENT_SECURITY_POLICY if scope["path"] == "/docs" else CONTENT_SECURITY_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"content-security-policy", policy.encode())] if b"content-security-policy" not in present else []
                extra += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
