"""A small same-origin front for another client's page: its files at `/` and `/static/…`, and
`/api/*` passed through to a real arena, as a reverse proxy in front of both would.

Like such a proxy (nginx's `proxy_set_header Host $host`), it forwards the browser's own Host,
Origin and Sec-Fetch-* headers, so the arena's browser guard judges the page exactly as it would
judge any page on that origin: nothing is exempted for it. Bodies stream both ways, unbuffered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tests.support.server import serving

# Hop-by-hop headers (RFC 9110 §7.6.1) and the length, which the streamed body sets anew.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length"}
)


def proxy_app(*, page: Path, static: Path, upstream: str) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(120.0))

    async def index(request: Request) -> Response:
        return FileResponse(page)

    async def api(request: Request) -> Response:
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]
        outgoing = client.build_request(
            request.method, request.url.path, params=request.url.query, headers=headers, content=request.stream()
        )
        answer = await client.send(outgoing, stream=True)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        return StreamingResponse(
            answer.aiter_raw(), status_code=answer.status_code, headers=kept, background=BackgroundTask(answer.aclose)
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/", index),
            Mount("/static", StaticFiles(directory=static)),
            Route("/api/{path:path}", api, methods=methods),
        ],
        lifespan=lambda app: _closing(client),
    )


@asynccontextmanager
async def _closing(client: httpx.AsyncClient) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await client.aclose()


@contextmanager
def same_origin_proxy(*, page: Path, static: Path, upstream: str) -> Iterator[str]:
    """Serve `page` at `/`, `static` at `/static` and `upstream`'s /api on one loopback origin; yields its URL."""
    with serving(proxy_app(page=page, static=static, upstream=upstream), what="the proxy") as url:
        yield url
