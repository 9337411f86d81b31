"""The OpenAI-compatible gateway: GET /v1/models and POST /v1/chat/completions, in front of every
model the arena serves, by its arena id.

The caller, roles, rate limit (the chat bucket) and generation budget are those of any chat;
the engines' egress policy is untouched. Nothing is stored unless the caller asks
(`X-Arena-Store: true`, or OpenAI's own `store: true`). Errors are OpenAI's shape
(`web/openai_errors.py`); the meaning of each field is `evaluation/gateway.py`'s.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from arena.errors import ArenaError, ModelNotAvailable
from arena.evaluation.conversation.compare import Event, FinishEvent, TokenEvent
from arena.evaluation.gateway import (
    Answer,
    GatewayCall,
    Refused,
    check_model_id,
    gateway_messages,
    sampling_options,
    start_answer,
)
from arena.web.auth.budget import Units, claim_generations
from arena.web.auth.principal import Principal
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, ModelRouter, Viewer
from arena.web.errors import status_for
from arena.web.observability.hooks import observe_generation
from arena.web.openai_errors import OpenAIErrorPublic, error_body, openai_error
from arena.web.schemas.openai_gateway import (
    ChatCompletionChunkPublic,
    ChatCompletionCreate,
    ChatCompletionPublic,
    ModelListPublic,
    ModelPublic,
)
from arena.web.streaming import STREAM_HEADERS

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai"])

SSE = "text/event-stream"
STORE_HEADER = "X-Arena-Store"
CONVERSATION_HEADER = "X-Arena-Conversation-Id"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": OpenAIErrorPublic, "description": description}
    for code, description in {
        400: "A field the arena cannot honour, or a malformed request (param names the field)",
        401: "No API token, or an unknown one",
        403: "Your role may not do this (a viewer may not generate)",
        404: "No such model (code model_not_found)",
        413: "A body over ARENA_MAX_BODY_BYTES",
        429: "Over the chat rate limit, or past your generations at once (ARENA_MAX_STREAMS_PER_USER)",
        502: "The engine answered something unreadable",
        503: "The model's engine is down, or the server runs all the generations it may",
        504: "No complete answer within REQUEST_TIMEOUT",
    }.items()
}
STREAMED = {
    200: {
        "description": "The completion; with `stream: true` a `text/event-stream` of ChatCompletionChunk objects "
        "(`data: {…}` lines) ending with `data: [DONE]`",
        "content": {SSE: {"schema": {"type": "string"}}},
    }
}
StoreHeader = Annotated[
    bool, Header(alias=STORE_HEADER, description="true: keep this request as a conversation of your own")
]


@router.get("/models", response_model=ModelListPublic, dependencies=[Viewer], responses=ERRORS)
async def list_models(models: ModelRouter) -> ModelListPublic:
    """Every model the arena serves now, by its arena id (as OpenAI's `GET /v1/models`)."""
    inventory = await models.inventory()
    return ModelListPublic(data=[_model(info.id) for info in inventory.models])


@router.get("/models/{model_id:path}", response_model=ModelPublic, dependencies=[Viewer], responses=ERRORS)
async def get_model(model_id: str, models: ModelRouter) -> ModelPublic | JSONResponse:
    """One model the arena serves now; 404 when it serves none by that id."""
    inventory = await models.inventory()
    if model_id not in {info.id for info in inventory.models}:
        return _model_not_found(f"The model '{model_id}' does not exist here (GET /v1/models lists them)")
    return _model(model_id)


@router.post(
    "/chat/completions",
    response_model=ChatCompletionPublic,
    dependencies=[Evaluator],
    responses={**ERRORS, **STREAMED},
)
async def create_chat_completion(
    body: ChatCompletionCreate,
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
    store_header: StoreHeader = False,
) -> Any:
    """One answer from one arena model, whole or streamed (as OpenAI's chat completions)."""
    try:
        call = GatewayCall(
            model=body.model,
            messages=gateway_messages(
                [(m.gateway_role, m.text) for m in body.messages], history_limit=settings.history_limit
            ),
            options=sampling_options(
                temperature=body.temperature,
                top_p=body.top_p,
                top_k=body.top_k,
                repeat_penalty=body.repeat_penalty,
                max_tokens=body.token_limit,
                seed=body.seed,
            ),
            json_schema=body.response_format.schema() if body.response_format else None,
        )
        check_model_id(body.model)
        await models.check_known(body.model)
    except ModelNotAvailable as exc:
        return _model_not_found(str(exc))
    except Refused as exc:
        return openai_error(400, str(exc), param=exc.param)
    units = await _claim(request, principal)
    try:
        answer = await start_answer(
            router=models,
            database=db,
            call=call,
            store=store_header or bool(body.store),
            owner_id=principal.user_id,
            timeout_s=settings.request_timeout,
        )
    except BaseException:
        units.release()
        raise
    headers = {CONVERSATION_HEADER: answer.conversation_id} if answer.conversation_id else {}
    completion = Completion(
        model=body.model,
        include_usage=body.include_usage,
        observe=lambda finished: observe_generation(request, finished),  # counted and logged, as chat's
    )
    if not body.stream:
        return await _whole(answer, units, completion, headers)
    return await _streamed(answer, units, completion, headers)


async def _claim(request: Request, principal: Principal) -> Units:
    """The caller's one unit of the generation budget (429 past their cap; past the server's
    total it waits in the fair queue, 503 when the wait runs out): the gateway's only call to it."""
    return await claim_generations(request, principal, 1)


async def _whole(answer: Answer, units: Units, completion: Completion, headers: dict[str, str]) -> Any:
    with units:
        try:
            finished = [event async for event in answer.events() if isinstance(event, FinishEvent)][0]
        finally:
            await answer.aclose()
    completion.observe(finished)
    if finished.status != "ok":
        return _engine_error(finished)
    return JSONResponse(completion.whole(finished), headers=headers)


async def _streamed(answer: Answer, units: Units, completion: Completion, headers: dict[str, str]) -> Any:
    """Waits for the first token (or the end) before answering: an engine that is down or a model it
    lacks is then a plain HTTP error, not a stream that fails at once."""
    events = answer.events()
    try:
        first = await anext(events)
    except BaseException:
        await answer.aclose()
        units.release()
        raise
    if isinstance(first, FinishEvent) and first.status != "ok" and not first.text:
        await answer.aclose()
        units.release()
        completion.observe(first)
        return _engine_error(first)

    async def cleanup() -> None:
        try:
            await answer.aclose()  # a client gone mid-stream stops the generation
        finally:
            units.release()

    return EventStream(completion.chunks(first, events, on_finish=units.release), cleanup=cleanup, headers=headers)


class Completion:
    """One completion's id, time and model, and its bodies: whole, or as stream chunks."""

    def __init__(self, *, model: str, include_usage: bool, observe: Callable[[FinishEvent], None]) -> None:
        self.id = f"chatcmpl-{secrets.token_hex(12)}"
        self.observe = observe  # called once with the answer's FinishEvent
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage

    def whole(self, finished: FinishEvent) -> dict[str, Any]:
        return ChatCompletionPublic(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[{"message": {"content": finished.text}, "finish_reason": _finish_reason(finished)}],
            usage=_usage(finished),
        ).model_dump(mode="json")

    async def chunks(
        self, first: Event, rest: AsyncIterator[Event], *, on_finish: Callable[[], None]
    ) -> AsyncIterator[bytes]:
        yield self._chunk({"delta": {"role": "assistant", "content": ""}})
        try:
            event: Event | None = first
            while event is not None:
                if isinstance(event, TokenEvent):
                    yield self._chunk({"delta": {"content": event.text}})
                else:
                    on_finish()  # the generation is over: its unit goes back before the client reads on
                    self.observe(event)
                    for part in self._ending(event):
                        yield part
                    break
                event = await anext(rest, None)
        except Exception as exc:  # a failure of ours mid-way still ends the stream as OpenAI's would
            logger.error("gateway stream %s failed: %s", self.id, type(exc).__name__)
            yield _data(error_body(502, f"the stream failed: {type(exc).__name__}"))
        yield b"data: [DONE]\n\n"

    def _ending(self, finished: FinishEvent) -> list[bytes]:
        if finished.status != "ok":
            status, message, code = _failure(finished)
            return [_data(error_body(status, message, code=code))]
        ending = [self._chunk({"delta": {}, "finish_reason": _finish_reason(finished)})]
        if self.include_usage:
            ending.append(self._chunk(None, usage=_usage(finished)))
        return ending

    def _chunk(self, choice: dict[str, Any] | None, *, usage: dict[str, int] | None = None) -> bytes:
        chunk = ChatCompletionChunkPublic(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[choice] if choice is not None else [],
            usage=usage,
        ).model_dump(mode="json")
        if choice is not None:
            chunk["choices"][0]["delta"] = choice["delta"]  # only what this chunk adds, as OpenAI's
        if not self.include_usage:
            del chunk["usage"]  # OpenAI sends the key only when usage was asked for
        return _data(chunk)


class EventStream(StreamingResponse):
    """Server-sent events that no proxy holds back; `cleanup` runs however the response ends, even
    when the client left before the body started (a generator's `finally` would not)."""

    def __init__(
        self, content: AsyncIterator[bytes], *, cleanup: Callable[[], Awaitable[None]], headers: dict[str, str]
    ) -> None:
        super().__init__(content, media_type=SSE, headers={**STREAM_HEADERS, **headers})
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._cleanup()


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _finish_reason(finished: FinishEvent) -> str:
    reason = finished.metrics.finish_reason if finished.metrics else None
    return "length" if reason == "length" else "stop"


def _usage(finished: FinishEvent) -> dict[str, int]:
    prompt = (finished.metrics.prompt_tokens if finished.metrics else None) or 0
    completion = finished.metrics.tokens if finished.metrics else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _failure(finished: FinishEvent) -> tuple[int, str, str | None]:
    """Status, message and code of an answer that failed (502: an engine failure with no kind)."""
    exc = finished.exception
    status = status_for(exc) if isinstance(exc, ArenaError) else 502
    code = "model_not_found" if isinstance(exc, ModelNotAvailable) else None
    return status, finished.error or "generation failed", code


def _engine_error(finished: FinishEvent) -> JSONResponse:
    status, message, code = _failure(finished)
    return openai_error(status, message, param="model" if code else None, code=code)


def _model_not_found(message: str) -> JSONResponse:
    return openai_error(404, message, param="model", code="model_not_found")


def _model(model_id: str) -> ModelPublic:
    owner = model_id.split("/", 1)[0] if model_id.startswith("openai:") else model_id.split(":", 1)[0]
    return ModelPublic(id=model_id, owned_by=owner)


@router.api_route(
    "/{endpoint:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False, dependencies=[Viewer]
)
async def unknown_endpoint(endpoint: str) -> JSONResponse:
    """OpenAI's other APIs (completions, embeddings, responses…): say what is served, in OpenAI's shape."""
    if endpoint.strip("/") in ("chat/completions", "models"):
        return openai_error(405, f"/v1/{endpoint.strip('/')} does not take this method", code="method_not_allowed")
    return openai_error(
        404,
        f"/v1/{endpoint} is not served here: the arena serves chat completions (POST /v1/chat/completions) "
        "and the model list (GET /v1/models)",
        code="unknown_url",
    )
