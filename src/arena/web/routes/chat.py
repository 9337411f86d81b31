"""POST /api/chat and /api/stream_chat: one turn to several model instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from arena.errors import ArenaError, EngineUnavailable
from arena.evaluation.compare import FinishEvent, compare
from arena.evaluation.instances import check_instances
from arena.evaluation.recording import ResponseRecorder
from arena.evaluation.turns import PreparedTurn, prepare_turn
from arena.web.deps import AppSettings, Authorized, Db, ModelRouter
from arena.web.errors import error_response, status_for
from arena.web.schemas import ChatRequest, ErrorBody, InstanceResult, MultiChatResponse
from arena.web.streaming import NDJSON, event_payload, line

router = APIRouter(prefix="/api", tags=["chat"], dependencies=[Authorized])

ERRORS = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}}


async def _prepare(body: ChatRequest, settings: AppSettings, models: ModelRouter, db: Db) -> PreparedTurn:
    instances = body.instances()
    check_instances(instances, max_instances=settings.max_instances)
    if len(instances) == 1:
        # A lone unknown model is the request's error (404); among several, that instance's.
        await models.check_known(instances[0].model)
    return await asyncio.to_thread(
        prepare_turn,
        database=db,
        instances=instances,
        history=[m.to_message() for m in body.history],
        message=body.message,
        system=body.system,
        conversation_id=body.conversation_id,
        history_limit=settings.history_limit,
    )


def _generation_slots(request: Request) -> asyncio.Semaphore:
    slots: asyncio.Semaphore = request.app.state.generation_slots
    if slots.locked():
        raise EngineUnavailable(
            "too many generations in progress (MAX_CONCURRENT_REQUESTS): wait for one to finish and try again"
        )
    return slots


@router.post("/stream_chat", responses=ERRORS, response_class=StreamingResponse)
async def stream_chat(body: ChatRequest, request: Request, settings: AppSettings, models: ModelRouter, db: Db):
    """Stream every instance's answer as NDJSON lines, interleaved as tokens arrive."""
    slots = _generation_slots(request)
    prepared = await _prepare(body, settings, models, db)

    async def lines() -> AsyncIterator[bytes]:
        async with slots:
            yield line(
                {
                    "conversation_id": prepared.conversation_id,
                    "turn_id": prepared.turn_id,
                    "instances": [{"instance_id": t.instance_id, "model": t.model} for t in prepared.targets],
                }
            )
            recorder = ResponseRecorder(database=db, turn_id=prepared.turn_id)
            events = compare(
                router=models, targets=prepared.targets, sink=recorder, timeout_s=settings.request_timeout
            )
            async with aclosing(events):
                async for event in events:
                    yield line(event_payload(event))

    return StreamingResponse(lines(), media_type=NDJSON)


@router.post("/chat", responses=ERRORS, response_model=InstanceResult | MultiChatResponse)
async def chat(body: ChatRequest, request: Request, settings: AppSettings, models: ModelRouter, db: Db):
    """Answer once every instance has finished; one instance gives its result alone."""
    slots = _generation_slots(request)
    prepared = await _prepare(body, settings, models, db)
    finished: list[FinishEvent] = []
    async with slots:
        recorder = ResponseRecorder(database=db, turn_id=prepared.turn_id)
        events = compare(router=models, targets=prepared.targets, sink=recorder, timeout_s=settings.request_timeout)
        async with aclosing(events):
            finished = [event async for event in events if isinstance(event, FinishEvent)]
    results = {
        e.instance_id: InstanceResult(
            model=e.model,
            instance_id=e.instance_id,
            response=e.text,
            metrics=e.metrics.to_dict() if e.metrics else None,
            conversation_id=prepared.conversation_id,
        )
        for e in finished
        if e.status == "ok"
    }
    errors = {e.instance_id: e.error or e.status for e in finished if e.status != "ok"}
    if len(prepared.targets) == 1:
        if errors:
            event = finished[0]
            status = status_for(event.exception) if isinstance(event.exception, ArenaError) else 502
            return error_response(status, event.error or "generation failed", conversation_id=prepared.conversation_id)
        return next(iter(results.values()))
    return MultiChatResponse(results=results, errors=errors, conversation_id=prepared.conversation_id)
