"""Every HTML page: GET / (the arena), /login, /leaderboard, /bench and /audit.

One Jinja2 environment renders them all through `render`, with the same strict headers. Each page
is guarded by a role from `arena.web.auth.pages`, which sends a browser without a session to
/login?next=…; one logged in without the page's role gets a 403 page in the site's layout saying
who may open it (`_refusal`; a client asking for JSON gets JSON). The page's scripts and styles
come from /static (see static/README.md), and its data from the JSON API, which checks the caller
again on every call.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from arena import __version__
from arena.engines.base import SamplingOptions
from arena.storage import audit
from arena.web.auth import oidc_messages
from arena.web.auth.pages import PageViewer
from arena.web.auth.principal import Role
from arena.web.deps import AppSettings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# The browser guard (web/middleware.py) adds the CSP and the other security headers to every
# response. The page itself is tiny; always fetching it keeps it in step with its scripts.
PAGE_HEADERS = {"Cache-Control": "no-cache"}

LEADERBOARD_ROUNDS = 300  # the page polls: fewer rounds answer faster and move the bounds by little
LEADERBOARD_POLL_SECONDS = 5

# How each hyperparameter is labelled in the form and abbreviated on an instance chip.
HYPERPARAMETER_NAMES = {
    "temperature": ("Temperature", "T"),
    "top_p": ("Top P", "P"),
    "top_k": ("Top K", "K"),
    "repeat_penalty": ("Repeat penalty", "R"),
    "num_predict": ("Max tokens", "M"),
    "seed": ("Seed", "S"),
}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
router = APIRouter(tags=["pages"], include_in_schema=False)


def render(request: Request, page: str, **context: Any) -> HTMLResponse:
    """templates/<page>.html, told which page it is (the header marks it), with the page headers."""
    return templates.TemplateResponse(request, f"{page}.html", {"page": page, **context}, headers=PAGE_HEADERS)


def _refusal(request: Request, needed: Role, what: str) -> Response | None:
    """None when the caller may open the page. Otherwise a browser gets a page in the site's layout
    saying who may (403), and an API client the usual JSON 403. The page guard has already sent
    anyone not logged in to /login; in token mode the page asks for the token itself (no principal)."""
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.has_role(needed):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        raise HTTPException(status_code=403, detail=f"This page needs the {needed} role; you are {principal.role}")
    context = {
        "page": None,
        "heading": f"{ROLE_TITLES[needed]} only",
        "message": f"{what} is open to {ROLE_TITLES[needed].lower()}; your account is {_article(principal.role)}.",
        "username": principal.username,
        "role": principal.role,
    }
    return templates.TemplateResponse(request, "forbidden.html", context, status_code=403, headers=PAGE_HEADERS)


ROLE_TITLES: dict[str, str] = {"admin": "Admins", "evaluator": "Evaluators and admins"}


def _article(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _number(value: float) -> str:
    """2.0 → "2", 0.01 → "0.01": how a range reads in the form."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _default_text(default: float, description: str) -> str:
    """How a field's default reads: "default -1 (no limit)" when its description says what it means."""
    special, _, meaning = description.partition("(")[2].rstrip(")").partition("=")
    if meaning and special.strip() == str(default):
        return f"default {_number(default)} ({meaning.strip()})"
    return f"default {_number(default)}"


def hyperparameter_fields() -> list[dict[str, object]]:
    """The form's fields, with ranges and defaults taken from the API's own model, so they cannot drift."""
    properties = SamplingOptions.model_json_schema()["properties"]
    fields = []
    for name, (label, short) in HYPERPARAMETER_NAMES.items():
        spec = properties[name]
        integer = spec["type"] == "integer"
        fields.append(
            {
                "name": name,
                "label": label,
                "short": short,
                "min": spec["minimum"],
                "max": spec["maximum"],
                "default": spec["default"],
                "step": 1 if integer else 0.01,
                "integer": integer,
                "description": spec.get("description", ""),
                "range": f"{_number(spec['minimum'])} – {_number(spec['maximum'])}",
                "default_text": _default_text(spec["default"], spec.get("description", "")),
            }
        )
    return fields


def safe_next(value: str | None) -> str:
    """Only an absolute path on this server, else "/".

    Browsers drop tabs and newlines from a URL and read `\\` as `/`, so `/<TAB>/evil.example`
    and `/\\evil.example` become `//evil.example`: another site. Refused, as decoded and once
    more percent-decoded: any control, format or separator character (spaces included), any
    backslash, and anything that does not start with exactly one `/`.
    """
    if not value:
        return "/"
    for form in (value, unquote(value)):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return "/"
        if any(unicodedata.category(ch)[0] in "CZ" for ch in form):
            return "/"
    return value


@router.get("/", response_class=HTMLResponse, dependencies=[PageViewer])
async def get_arena_page(request: Request, settings: AppSettings) -> HTMLResponse:
    """The arena: pick models, compare, converse, vote, export."""
    principal = getattr(request.state, "principal", None)  # None in token mode: the machine's owner
    return render(
        request,
        "arena",
        # The server refuses pulls and deletes to anyone else; the page does not offer them either.
        can_manage_models=principal is None or principal.has_role("admin"),
        version=__version__,
        max_instances=settings.max_instances,
        max_upload_bytes=settings.max_upload_bytes,
        token_required=settings.web_chat_token is not None,
        hyperparameters=hyperparameter_fields(),
    )


@router.get("/login", response_class=HTMLResponse)
async def get_login_page(
    request: Request, settings: AppSettings, next: str | None = None, sso: str | None = None
) -> Response:
    """The sign-in form of `users` mode (it posts to /api/auth/login); other modes have no login.
    `sso` is a single sign-on refusal's code (`web/auth/oidc_messages.py`), shown as its sentence."""
    if settings.auth_mode != "users":
        return RedirectResponse("/", status_code=303)
    sso_name = settings.oidc_name if settings.oidc_enabled else None  # "Sign in with <name>"
    sso_error = oidc_messages.message(sso, provider=sso_name) if sso_name else None
    return render(request, "login", next_path=safe_next(next), sso_name=sso_name, sso_error=sso_error)


@router.get("/leaderboard", response_class=HTMLResponse, dependencies=[PageViewer])
async def get_leaderboard_page(request: Request) -> HTMLResponse:
    """The leaderboard: it fetches /api/leaderboard itself and keeps it current."""
    return render(request, "leaderboard", poll_seconds=LEADERBOARD_POLL_SECONDS, rounds=LEADERBOARD_ROUNDS)


@router.get("/bench", response_class=HTMLResponse, dependencies=[PageViewer])
async def get_bench_page(request: Request, settings: AppSettings) -> Response:
    """Start benchmarks, watch them run, cancel them, open their reports."""
    if refused := _refusal(request, "evaluator", "Running benchmarks"):
        return refused
    return render(
        request,
        "bench",
        token_required=settings.web_chat_token is not None,
        max_upload_bytes=settings.max_upload_bytes,
    )


@router.get("/audit", response_class=HTMLResponse, dependencies=[PageViewer])
async def get_audit_page(request: Request, settings: AppSettings) -> Response:
    """Browse, filter, export and verify the audit log."""
    if refused := _refusal(request, "admin", "The audit log"):
        return refused
    return render(request, "audit", token_required=settings.auth_mode == "token", actions=audit.ACTIONS)
