"""Markdown rendered on the server, and the colours of its highlighted code."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from arena.web.deps import Viewer
from arena.web.markdown import highlight_css, render_markdown
from arena.web.openapi import error_responses
from arena.web.schemas.render import RenderCreate, RenderPublic

# No router-wide token check: a <link rel="stylesheet"> cannot send one, and the CSS is public.
router = APIRouter(prefix="/api/render", tags=["render"])

ERRORS = error_responses(413, 422)


@router.post("", response_model=RenderPublic, responses=ERRORS, dependencies=[Viewer])
async def render_html(body: RenderCreate) -> RenderPublic:
    """Safe HTML for Markdown: no raw HTML, no scripts or event handlers, links only http(s) and mailto."""
    return RenderPublic(html=await asyncio.to_thread(render_markdown, body.markdown))


@router.get("/pygments.css", response_class=Response, responses={200: {"content": {"text/css": {}}}})
async def get_highlight_css() -> Response:
    """Colours for highlighted code, light and dark (`data-theme="dark"` or the system setting)."""
    return Response(highlight_css(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
