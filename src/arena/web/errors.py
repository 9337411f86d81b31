"""HTTP status codes for the arena's exceptions, chosen in this one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.errors import (
    ArenaError,
    Conflict,
    EncryptionKeyError,
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    InvalidInput,
    ModelNotAvailable,
    NotFound,
    ServerBusy,
    SharedStateUnavailable,
    StorageUnavailable,
    TooLarge,
    UnsupportedContent,
)
from arena.web.observability.hooks import observe_error, observe_refusal

# Most specific first: the first matching class decides.
STATUS_BY_ERROR: list[tuple[type[ArenaError], int]] = [
    (ModelNotAvailable, 404),
    (EngineRejected, 400),
    (EngineUnavailable, 503),
    (EngineTimeout, 504),
    (EngineProtocolError, 502),
    (EngineError, 502),
    (NotFound, 404),
    (Conflict, 409),
    (StorageUnavailable, 503),
    (SharedStateUnavailable, 503),
    (ServerBusy, 503),
    (EncryptionKeyError, 500),  # the server's key, not the request, is wrong
    (TooLarge, 413),
    (UnsupportedContent, 415),
    (InvalidInput, 400),
    (ArenaError, 400),
]


def status_for(exc: ArenaError) -> int:
    return next(status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls))


def error_response(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def describe_validation(errors: list[dict]) -> str:
    parts = []
    for err in errors:
        if err.get("type") == "json_invalid":  # its loc is a character position, not a field
            parts.append(_json_invalid(err))
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if not loc and err.get("type") == "model_attributes_type":
            parts.append("the body must be a JSON object (Content-Type: application/json)")
            continue
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def _json_invalid(err: dict) -> str:
    reason = (err.get("ctx") or {}).get("error") or "it cannot be parsed"
    position = next((p for p in err.get("loc", ()) if isinstance(p, int)), None)
    return f"the body is not valid JSON: {reason}" + (f" at character {position}" if position is not None else "")


OTHER_BUCKET = "other"  # a 429 that did not say which limit refused it

# FastAPI's answer to a body it could not even decode (bytes that are not UTF-8 text).
UNPARSABLE_BODY = "There was an error parsing the body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ArenaError)
    async def arena_error(_request: Request, exc: ArenaError) -> JSONResponse:
        observe_error(exc)  # the database's and Redis' failures are counted in /metrics
        response = error_response(status_for(exc), str(exc))
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        # Echoing inputs back could repeat secrets or whole prompts: keep location and message.
        detail = [{k: v for k, v in err.items() if k in ("loc", "msg", "type")} for err in errors]
        return error_response(422, describe_validation(list(errors)), detail=jsonable_encoder(detail))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 429:  # counted by bucket, and watched for a caller refused again and again
            await observe_refusal(request, getattr(exc, "bucket", None) or OTHER_BUCKET)
        if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY and isinstance(exc.__cause__, UnicodeDecodeError):
            # The same answer as any other body that is not JSON: 422, saying why.
            message = "the body is not valid JSON: it is not UTF-8 text"
            return error_response(422, message, detail=[{"loc": ["body"], "msg": message, "type": "json_invalid"}])
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
