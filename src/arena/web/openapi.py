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
    """Each documented NDJSON line model stands alone in /openapi.json. FastAPI puts its
    `{"type": "string"}` for a streamed body beside the line schema a route documents, which
    would claim every line is both a string and an object."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            for path in spec.get("paths", {}).values():
                for operation in path.values():
                    for response in operation.get("responses", {}).values():
                        schema = response.get("content", {}).get(NDJSON, {}).get("schema", {})
                        if schema.keys() & {"anyOf", "oneOf", "$ref"}:
                            schema.pop("type", None)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
