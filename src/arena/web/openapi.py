"""What /openapi.json says a route may answer besides its success: error bodies, by status."""

from __future__ import annotations

from typing import Any

from arena.web.schemas.common import ErrorPublic


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each code answers an `ErrorPublic`; `e429="…"` describes code 429."""
    return {code: {"model": ErrorPublic, **_described(descriptions.get(f"e{code}"))} for code in codes}


def _described(description: str | None) -> dict[str, str]:
    return {"description": description} if description else {}


# Every route that needs a caller may answer these (in modes token and users).
AUTH_ERRORS = error_responses(
    401, 403, e401="Not logged in, or an unknown token", e403="Your role may not do this, or the CSRF token is missing"
)
