"""What /openapi.json says a route may answer besides its success: error bodies, by status;
and streamed lines documented as what they are."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from arena.web.schemas.common import ErrorPublic
from arena.web.streaming import NDJSON


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each code answers an `ErrorPublic`; `e429="…"` describes code 429."""
    return {code: {"model": ErrorPublic, **_described(descriptions.get(f"e{code}"))} for code in codes}


def _described(description: str | None) -> dict[str, str]:
    return {"description": description} if description else {}


# Every route that needs a caller may answer these (in modes token and users).
AUTH_ERRORS = error_responses(
    401, 403, e401="Not logged in, or an unknown token", e403="Your role may not do this, or the CSRF token is missing"
)


def install_stream_schemas(app: FastAPI) -> None:
    """A streamed body's line schema under its own media type in /openapi.json.

    A route documents its lines as `{"model": Line, "content": {NDJSON: {}}}`; FastAPI puts the
    model's schema under application/json (the stream classes declare no media type, so that
    the route's error bodies stay application/json), and this moves it where it belongs."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            for path in spec.get("paths", {}).values():
                for operation in path.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if NDJSON in content and "schema" not in content[NDJSON] and "application/json" in content:
                            content[NDJSON] = content.pop("application/json")
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
