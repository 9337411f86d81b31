"""Pull and delete models (engines that can: Ollama)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from arena.engines.base import PullProgress
from arena.errors import ArenaError, InvalidInput
from arena.storage import audit
from arena.web.audit_events import record_event
from arena.web.deps import Admin, ModelRouter
from arena.web.openapi import error_responses
from arena.web.schemas.models import ModelDeletedPublic, ModelNameCreate
from arena.web.streaming import NDJSON, line

router = APIRouter(prefix="/api", tags=["model management"], dependencies=[Admin])

ERRORS = error_responses(400, 404, 413, 422, 429, 503, e429="Over the caller's rate limit (pulls)")


def _progress(p: PullProgress) -> dict:
    return {k: v for k, v in {"status": p.status, "completed": p.completed, "total": p.total, "digest": p.digest}.items() if v is not None}


def _model_id(body: ModelNameCreate) -> str:
    model_id = body.model_id()
    if not model_id:
        raise InvalidInput("give the model to pull or delete as `model`")
    return model_id


async def _pull_stream(request: Request, models: ModelRouter, model_id: str) -> StreamingResponse:
    progress = models.pull(model_id)
    # Wait for the first progress line, so a refused pull is a plain HTTP error, not a stream.
    try:
        first = await anext(progress)
    except BaseException:
        await progress.aclose()
        raise
    await record_event(request, audit.MODEL_PULL, target=model_id)

    async def lines() -> AsyncIterator[bytes]:
        async with aclosing(progress):
            yield line(_progress(first))
            try:
                async for item in progress:
                    yield line(_progress(item))
            except ArenaError as exc:  # the stream has begun: the error becomes its last line
                yield line({"status": "error", "error": str(exc)})

    return StreamingResponse(lines(), media_type=NDJSON)


@router.post("/pull_model", responses=ERRORS, response_class=StreamingResponse)
async def pull_model(body: ModelNameCreate, request: Request, models: ModelRouter):
    """Pull a model, streaming progress as NDJSON lines: status, completed, total."""
    return await _pull_stream(request, models, _model_id(body))


@router.post("/models/pull", responses=ERRORS, response_class=StreamingResponse)
async def pull_model_rest(body: ModelNameCreate, request: Request, models: ModelRouter):
    """REST-style alias of /api/pull_model."""
    return await _pull_stream(request, models, _model_id(body))


@router.post("/delete_model", responses=ERRORS, response_model=ModelDeletedPublic)
async def delete_model(body: ModelNameCreate, request: Request, models: ModelRouter) -> ModelDeletedPublic:
    """Delete a pulled model."""
    model_id = _model_id(body)
    await models.delete(model_id)
    await record_event(request, audit.MODEL_DELETE, target=model_id)
    return ModelDeletedPublic(status="deleted", model=model_id)


@router.delete("/models/{model_id:path}", responses=ERRORS, response_model=ModelDeletedPublic)
async def delete_model_rest(model_id: str, request: Request, models: ModelRouter) -> ModelDeletedPublic:
    """REST-style alias of /api/delete_model."""
    await models.delete(model_id)
    await record_event(request, audit.MODEL_DELETE, target=model_id)
    return ModelDeletedPublic(status="deleted", model=model_id)
