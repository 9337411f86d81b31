"""Markdown rendered on the server, and the colours of its highlighted code."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from arena.errors import TooLarge
from arena.web.auth.limits import enforce_rate_limit
from arena.web.deps import Viewer
from arena.web.markdown import MAX_MARKDOWN_BYTES, RendererBusy, highlight_css, render_markdown_async, too_long
from arena.web.openapi import error_responses
from arena.web.schemas.render import RenderCreate, RenderPublic

# No router-wide token check: a <link rel="stylesheet"> cannot send one, and the CSS is public.
router = APIRouter(prefix="/api/render", tags=["render"])

ERRORS = error_responses(413, 422, 429, 503, e503="Too many renders at once; retry shortly")


# Viewer first: a caller without access is told so before the request counts (ARENA_RATE_LIMIT_RENDER).
@router.post("", response_model=RenderPublic, responses=ERRORS, dependencies=[Viewer, Depends(enforce_rate_limit)])
async def render_html(body: RenderCreate) -> RenderPublic:
    """Safe HTML for Markdown: no raw HTML, no scripts or event handlers, links only http(s) and mailto.

    At most 256 KiB of Markdown (413 past it), rendered on threads of its own."""
    if too_long(body.markdown):
        raise TooLarge(
            f"the Markdown is {len(body.markdown.encode())} bytes; /api/render takes at most {MAX_MARKDOWN_BYTES}"
        )
    try:
        return RenderPublic(html=await render_markdown_async(body.markdown))
    except RendererBusy as busy:  # the page keeps showing the plain text meanwhile
        raise HTTPException(
            503, detail=f"the server is busy: {busy}; try again shortly", headers={"Retry-After": "1"}
        ) from None


@router.get("/pygments.css", response_class=Response, responses={200: {"content": {"text/css": {}}}})
async def get_highlight_css() -> Response:
    """Colours for highlighted code, light and dark (`data-theme="dark"` or the system setting)."""
    return Response(highlight_css(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
