"""Pull and delete models (engines that can: Ollama).

`/api/pull_model` answers at once and pulls in the background, as v3 did (its page polls
/api/models); `/api/models/pull` streams the progress (the arena's own page).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request

from arena.engines.base import PullProgress
from arena.engines.router import Router
from arena.errors import ArenaError, InvalidInput
from arena.storage import audit
from arena.web.audit_events import record_event
from arena.web.deps import Admin, ModelRouter
from arena.web.openapi import error_responses
from arena.web.schemas.models import ModelDeletedPublic, ModelNameCreate, PullStartedPublic
from arena.web.streaming import NdjsonStream, line

router = APIRouter(prefix="/api", tags=["model management"], dependencies=[Admin])

ERRORS = error_responses(400, 404, 413, 422, 429, 503, e429="Over the caller's rate limit (pulls)")
logger = logging.getLogger(__name__)


def _progress(p: PullProgress) -> dict:
    return {k: v for k, v in {"status": p.status, "completed": p.completed, "total": p.total, "digest": p.digest}.items() if v is not None}


def _model_id(body: ModelNameCreate) -> str:
    model_id = body.model_id()
    if not model_id:
        raise InvalidInput("give the model to pull or delete as `model`")
    return model_id


async def _pull_stream(request: Request, models: ModelRouter, model_id: str, endpoint: str | None) -> NdjsonStream:
    engine, _name = models.engine_for_management(model_id, endpoint=endpoint)  # settled once: audited as used
    progress = models.pull(model_id, endpoint=engine.endpoint)
    # Wait for the first progress line, so a refused pull is a plain HTTP error, not a stream.
    try:
        first = await anext(progress)
    except BaseException:
        await progress.aclose()
        raise
    await record_event(request, audit.MODEL_PULL, target=model_id, endpoint=engine.endpoint)

    async def lines() -> AsyncIterator[bytes]:
        async with aclosing(progress):
            yield line(_progress(first))
            try:
                async for item in progress:
                    yield line(_progress(item))
            except ArenaError as exc:  # the stream has begun: the error becomes its last line
                yield line({"status": "error", "error": str(exc)})

    return NdjsonStream(lines())


async def _pull_quietly(models: Router, model_id: str, endpoint: str) -> None:
    """A background pull: nobody waits on it, so its end goes to the log."""
    try:
        async with aclosing(models.pull(model_id, endpoint=endpoint)) as progress:
            async for _ in progress:
                pass
    except ArenaError as exc:
        logger.warning("pulling %s failed: %s", model_id, exc)
    else:
        logger.info("pulled %s", model_id)


def _background_pulls(app: FastAPI) -> set[asyncio.Task[None]]:
    pulls = getattr(app.state, "background_pulls", None)
    if pulls is None:
        pulls = app.state.background_pulls = set()
    return pulls


async def stop_pulls(app: FastAPI) -> None:
    """At shutdown: end the pulls still running, before their engines close under them."""
    pulls = list(_background_pulls(app))
    for task in pulls:
        task.cancel()
    await asyncio.gather(*pulls, return_exceptions=True)


# v3's two routes answer in v3's exact shape unless the caller named an endpoint (v3 never does).
@router.post("/pull_model", responses=ERRORS, response_model=PullStartedPublic, response_model_exclude_none=True)
async def pull_model(body: ModelNameCreate, request: Request, models: ModelRouter) -> PullStartedPublic:
    """Start pulling a model and answer at once (v3); poll /api/models for it to appear, or use
    /api/models/pull to follow the progress."""
    model_id = _model_id(body)
    # No such engine or endpoint: the error is this answer's. The endpoint is settled now, so the
    # background pull goes where this answer says.
    engine, _name = models.engine_for_management(model_id, endpoint=body.endpoint)
    if not engine.can_pull:
        raise InvalidInput(f"{engine.kind} models cannot be pulled")
    await record_event(request, audit.MODEL_PULL, target=model_id, endpoint=engine.endpoint)
    pulls = _background_pulls(request.app)
    task = asyncio.create_task(_pull_quietly(models, model_id, engine.endpoint), name=f"pull {model_id}")
    pulls.add(task)  # held here until it ends: the loop keeps only weak references
    task.add_done_callback(pulls.discard)
    return PullStartedPublic(status="downloading", model=model_id, endpoint=body.endpoint and engine.endpoint)


@router.post("/models/pull", responses=ERRORS, response_class=NdjsonStream)
async def pull_model_rest(body: ModelNameCreate, request: Request, models: ModelRouter):
    """Pull a model, streaming progress as NDJSON lines: status, completed, total. `endpoint` picks
    one of several Ollama endpoints (else the least busy reachable one)."""
    return await _pull_stream(request, models, _model_id(body), body.endpoint)


@router.post("/delete_model", responses=ERRORS, response_model=ModelDeletedPublic, response_model_exclude_none=True)
async def delete_model(body: ModelNameCreate, request: Request, models: ModelRouter) -> ModelDeletedPublic:
    """Delete a pulled model: from `endpoint`, or from every endpoint that has it."""
    model_id = _model_id(body)
    endpoints = await models.delete(model_id, endpoint=body.endpoint)
    await record_event(request, audit.MODEL_DELETE, target=model_id, endpoints=endpoints)
    return ModelDeletedPublic(status="deleted", model=model_id, endpoints=endpoints if body.endpoint else None)


@router.delete("/models/{model_id:path}", responses=ERRORS, response_model=ModelDeletedPublic)
async def delete_model_rest(
    model_id: str,
    request: Request,
    models: ModelRouter,
    endpoint: Annotated[str | None, Query(max_length=300, description="Only this endpoint (else every one with it)")] = None,
) -> ModelDeletedPublic:
    """REST-style alias of /api/delete_model."""
    endpoints = await models.delete(model_id, endpoint=endpoint)
    await record_event(request, audit.MODEL_DELETE, target=model_id, endpoints=endpoints)
    return ModelDeletedPublic(status="deleted", model=model_id, endpoints=endpoints)
