"""GET /: the arena's one page, from a Jinja2 template; its scripts and styles come from /static."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from arena import __version__
from arena.engines.base import SamplingOptions
from arena.web.deps import AppSettings
from arena.web.auth.pages import PageViewer
from arena.web.middleware import CONTENT_SECURITY_POLICY

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# Everything the page runs or shows comes from this server: no inline script, style or handler,
# no third party. `img-src data:` is only for the browser's own form controls.
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page itself is tiny; always fetching it keeps it in step with its scripts.
    "Cache-Control": "no-cache",
}

# How each hyperparameter is labelled in the form and abbreviated on an instance chip.
HYPERPARAMETER_NAMES = {
    "temperature": ("Temperature", "T"),
    "top_p": ("Top P", "P"),
    "top_k": ("Top K", "K"),
    "repeat_penalty": ("Repeat penalty", "R"),
    "num_predict": ("Max tokens", "M"),
    "seed": ("Seed", "S"),
}


def _number(value: float) -> str:
    """2.0 → "2", 0.01 → "0.01": how a range reads in the form."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _default_text(default: float, description: str) -> str:
    """"default -1 (no limit)" when the description says what the default means, else "default 0.7"."""
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


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse, dependencies=[PageViewer])
async def get_arena_page(request: Request, settings: AppSettings) -> HTMLResponse:
    """The arena: pick models, compare, converse, vote, export."""
    return templates.TemplateResponse(
        request,
        "arena.html",
        {
            "version": __version__,
            "max_instances": settings.max_instances,
            "max_upload_bytes": settings.max_upload_bytes,
            "token_required": settings.web_chat_token is not None,
            "hyperparameters": hyperparameter_fields(),
        },
        headers=PAGE_HEADERS,
    )
