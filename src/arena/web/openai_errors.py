"""Errors in OpenAI's shape for the OpenAI-compatible routes (`/v1/…`) only.

OpenAI's clients read `{"error": {"message", "type", "param", "code"}}`; the rest of the API
answers `{"error": "…"}`. Rather than teach every refusal twice (authentication, roles, rate
limits, the generation budget, body limits, validation, unexpected failures each make their
own), `OpenAIErrors` reshapes any JSON error answered under the prefix, whoever made it. A
route that knows more (which parameter, which code) answers `openai_error(…)` itself, and that
body passes through untouched. Success bodies and streams are never buffered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# OpenAI answers a malformed request with 400; FastAPI's validation says 422.
VALIDATION_STATUS: Final = 400
# Pydantic's prefix on a validator's own message: noise to a client.
VALUE_ERROR_PREFIX: Final = "Value error, "
CODE_BY_STATUS: Final[dict[int, str]] = {
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found",
    413: "request_too_large",
    429: "rate_limit_exceeded",
    503: "service_unavailable",
    504: "timeout",
}


class OpenAIErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person")
    type: str = Field(description="invalid_request_error, rate_limit_error or server_error")
    param: str | None = Field(None, description="The request field at fault, when one is")
    code: str | None = Field(None, description="A stable code, e.g. model_not_found or invalid_api_key")


class OpenAIErrorPublic(BaseModel):
    """Every error of the /v1 routes, as OpenAI's API and SDKs shape it."""

    error: OpenAIErrorDetail


def error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    code = code if code is not None else CODE_BY_STATUS.get(status)
    return {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}


def openai_error(
    status: int, message: str, *, param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, param=param, code=code), status_code=status, headers=headers)


def reshape(status: int, body: Any) -> tuple[int, dict[str, Any]] | None:
    """The arena's `{"error": "…", "detail"?: […], "request_id"?: …}` as OpenAI's error, or None
    when `body` is not one (already OpenAI-shaped, or not an error body at all)."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    message: str = body["error"].replace(VALUE_ERROR_PREFIX, "")
    param = None
    detail = body.get("detail")
    if status == 422 and isinstance(detail, list):  # a validation error: name the field, as OpenAI does
        status = VALIDATION_STATUS
        param = _param(detail)
    if body.get("request_id"):
        message = f"{message} (request id {body['request_id']})"
    return status, error_body(status, message, param=param)


def _param(detail: Sequence[Any]) -> str | None:
    first = detail[0] if detail and isinstance(detail[0], dict) else {}
    if first.get("type") == "json_invalid":
        return None  # its location is a character position, not a field
    location = [str(part) for part in first.get("loc") or () if part not in ("body", "header", "query", "path")]
    return ".".join(location) or None


class OpenAIErrors:
    """ASGI: under `prefix`, a JSON error answer in the arena's shape is sent in OpenAI's.

    Only answers of status 400 and above with a JSON body are held (they are small); their
    status (422 becomes 400) and headers (Retry-After, WWW-Authenticate…) are kept otherwise."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        parts: list[bytes] = []

        async def reshaping_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400 and _is_json(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _send_reshaped(send, held, b"".join(parts))

        await self.app(scope, receive, reshaping_send)


def _is_json(start: Message) -> bool:
    content_type = dict(start.get("headers") or []).get(b"content-type", b"")
    return content_type.split(b";")[0].strip() == b"application/json"


async def _send_reshaped(send: Send, start: Message, body: bytes) -> None:
    try:
        reshaped = reshape(start["status"], json.loads(body))
    except ValueError:  # not JSON after all: pass it on as it came
        reshaped = None
    status = start["status"]
    if reshaped is not None:
        status, payload = reshaped
        body = json.dumps(payload, ensure_ascii=False).encode()
    headers = [(name, value) for name, value in start.get("headers") or [] if name.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
