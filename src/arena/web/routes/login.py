"""GET /login: the sign-in page of `users` mode (it posts to /api/auth/login from its own script)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arena.web.deps import AppSettings
from arena.web.routes.pages import PAGE_HEADERS, templates

router = APIRouter(tags=["pages"], include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a path on this server: `//evil.example` and `https://…` would leave it."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


@router.get("/login", response_class=HTMLResponse)
async def get_login_page(request: Request, settings: AppSettings, next: str | None = None) -> Response:
    if settings.auth_mode != "users":
        return RedirectResponse("/", status_code=303)
    return templates.TemplateResponse(
        request, "login.html", {"page": "login", "next_path": safe_next(next)}, headers=PAGE_HEADERS
    )
