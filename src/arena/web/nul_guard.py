"""NUL characters (U+0000) are refused with a 422 that says where, before they reach a route.

PostgreSQL's text types cannot hold NUL, so a message, title or search term carrying one used
to fail as a 500 deep inside a statement. No field of the arena needs it. JSON bodies are
checked by `JsonBounds` (web/middleware.py) through `nul_location`; the URL by `NulInUrl`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

NUL_MESSAGE: Final = "text may not contain NUL characters (\\u0000)"
# An escaped NUL not itself escaped (an even run of backslashes before it); only then is the
# body parsed to find where it is, so ordinary bodies cost one regex scan.
_ESCAPED_NUL: Final = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def nul_location(text: str) -> list[str | int] | None:
    """Where in a JSON body a string (or a key) holds NUL, e.g. ["body", "history", 0, "content"];
    None when none does, or when the body is not JSON (the parser then says why)."""
    if not _ESCAPED_NUL.search(text):
        return None
    try:
        return _find(json.loads(text), ["body"])
    except ValueError:
        return None


def _find(value: Any, path: list[str | int]) -> list[str | int] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path
            items.append((key, item))
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        found = _find(item, [*path, key])
        if found is not None:
            return found
    return None


def refusal(location: list[str | int]) -> bytes:
    """The 422 body, shaped like every other validation error."""
    where = ".".join(str(part) for part in location if part != "body") or "body"
    detail = [{"loc": location, "msg": NUL_MESSAGE, "type": "nul_character"}]
    return json.dumps({"error": f"{where}: {NUL_MESSAGE}", "detail": detail}).encode()


def _url_location(scope: Scope) -> list[str | int] | None:
    if "\x00" in scope.get("path", ""):
        return ["path"]
    query = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return ["query", name.replace("\x00", "")]
    return ["query"]


class NulInUrl:
    """422 for a path or query string holding an encoded NUL (%00)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        location = _url_location(scope) if scope["type"] == "http" else None
        if location is None:
            await self.app(scope, receive, send)
            return
        await send_refusal(send, location)


async def send_refusal(send: Send, location: list[str | int]) -> None:
    body = refusal(location)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
