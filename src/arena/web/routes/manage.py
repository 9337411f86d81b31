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


async def _audit_pull(request: Request, model_id: str, endpoint: str | None, outcome: str, error: str | None = None) -> None:
    """Every pull's entry says how it ended: refused (before any transfer), succeeded, failed, interrupted."""
    more = {k: v for k, v in {"endpoint": endpoint, "error": error}.items() if v is not None}
    await record_event(request, audit.MODEL_PULL, target=model_id, outcome=outcome, **more)


async def _start_pull(
    request: Request, models: Router, model_id: str, endpoint: str | None
) -> tuple[str, PullProgress, AsyncIterator[PullProgress]]:
    """The pull's endpoint, first progress line and the rest. Everything that can refuse a pull up
    front (no such engine, repo or quant, a name taken, a pull of it under way) is settled before
    the first line, so a refusal is this answer's error, audited as refused."""
    try:
        engine, _name = models.engine_for_management(model_id, endpoint=endpoint)  # settled once: audited as used
        if not engine.can_pull:
            raise InvalidInput(f"{engine.kind} models cannot be pulled")
    except ArenaError as exc:
        await _audit_pull(request, model_id, endpoint, "refused", str(exc))
        raise
    progress = models.pull(model_id, endpoint=engine.endpoint)
    try:
        first = await anext(progress)
    except ArenaError as exc:
        await progress.aclose()
        await _audit_pull(request, model_id, engine.endpoint, "refused", str(exc))
        raise
    except BaseException:
        await progress.aclose()
        raise
    return engine.endpoint, first, progress


async def _pull_stream(request: Request, models: ModelRouter, model_id: str, endpoint: str | None) -> NdjsonStream:
    endpoint, first, progress = await _start_pull(request, models, model_id, endpoint)

    async def lines() -> AsyncIterator[bytes]:
        outcome, error = "interrupted", None  # the client left before the end
        try:
            async with aclosing(progress):
                yield line(_progress(first))
                try:
                    async for item in progress:
                        yield line(_progress(item))
                    outcome = "succeeded"
                except ArenaError as exc:  # the stream has begun: the error becomes its last line
                    outcome, error = "failed", str(exc)
                    yield line({"status": "error", "error": str(exc)})
        finally:
            await asyncio.shield(_audit_pull(request, model_id, endpoint, outcome, error))  # a client that left too

    return NdjsonStream(lines())


async def _pull_quietly(request: Request, model_id: str, endpoint: str, progress: AsyncIterator[PullProgress]) -> None:
    """A background pull: nobody waits on it, so its end goes to the log and the audit log."""
    outcome, error = "interrupted", None  # the server shut down under it
    try:
        async with aclosing(progress):
            async for _ in progress:
                pass
        outcome = "succeeded"
        logger.info("pulled %s", model_id)
    except ArenaError as exc:
        outcome, error = "failed", str(exc)
        logger.warning("pulling %s failed: %s", model_id, exc)
    finally:
        try:
            await asyncio.shield(_audit_pull(request, model_id, endpoint, outcome, error))
        except Exception:  # nobody to answer: the log says it
            logger.exception("could not audit the end of pulling %s (%s)", model_id, outcome)


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
    # Checked before answering, as /api/models/pull does: a wrong repo, quant or endpoint is
    # v3's {"error": …} with its status, not "downloading". The pull goes on in the background.
    endpoint, _first, progress = await _start_pull(request, models, model_id, body.endpoint)
    pulls = _background_pulls(request.app)
    task = asyncio.create_task(_pull_quietly(request, model_id, endpoint, progress), name=f"pull {model_id}")
    pulls.add(task)  # held here until it ends: the loop keeps only weak references
    task.add_done_callback(pulls.discard)
    return PullStartedPublic(status="downloading", model=model_id, endpoint=body.endpoint and endpoint)


@router.post("/models/pull", responses=ERRORS, response_class=NdjsonStream)
async def pull_model_rest(body: ModelNameCreate, request: Request, models: ModelRouter):
    """Pull a model, streaming progress as NDJSON lines: status, completed, total. `endpoint` picks
    one of several Ollama endpoints (else the least busy reachable one)."""
    return await _pull_stream(request, models, _model_id(body), body.endpoint)


@router.post("/delete_model", responses=ERRORS, response_model=ModelDeletedPublic, response_model_exclude_none=True)
async def delete_model(body: ModelNameCreate, request: Request, models: ModelRouter) -> ModelDeletedPublic:
    """Delete a pulled model: from `endpoint`, or from every endpoint that has it."""
    model_id = _model_id(body)
    endpoints = await _delete(request, models, model_id, body.endpoint)
    return ModelDeletedPublic(status="deleted", model=model_id, endpoints=endpoints if body.endpoint else None)


@router.delete("/models/{model_id:path}", responses=ERRORS, response_model=ModelDeletedPublic)
async def delete_model_rest(
    model_id: str,
    request: Request,
    models: ModelRouter,
    endpoint: Annotated[str | None, Query(max_length=300, description="Only this endpoint (else every one with it)")] = None,
) -> ModelDeletedPublic:
    """REST-style alias of /api/delete_model."""
    endpoints = await _delete(request, models, model_id, endpoint)
    return ModelDeletedPublic(status="deleted", model=model_id, endpoints=endpoints)


async def _delete(request: Request, models: Router, model_id: str, endpoint: str | None) -> list[str]:
    """Delete, and audit how it ended (a refused or failed delete too, with its reason)."""
    try:
        endpoints = await models.delete(model_id, endpoint=endpoint)
    except ArenaError as exc:
        more = {"endpoint": endpoint} if endpoint else {}
        await record_event(request, audit.MODEL_DELETE, target=model_id, outcome="failed", error=str(exc), **more)
        raise
    await record_event(request, audit.MODEL_DELETE, target=model_id, endpoints=endpoints, outcome="succeeded")
    return endpoints
