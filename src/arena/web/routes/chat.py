"""POST /api/chat and /api/stream_chat: one turn to several model instances; /api/stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Annotated, Any, Union

from fastapi import APIRouter, Query, Request

from arena.errors import ArenaError, Conflict, InvalidInput, NotFound
from arena.evaluation.conversation.attachments import check_attachments
from arena.evaluation.conversation.compare import Comparison, Event, FinishEvent
from arena.evaluation.conversation.conversations import turn_instances
from arena.evaluation.conversation.instances import ModelInstance, check_instances
from arena.evaluation.conversation.recording import ResponseRecorder
from arena.evaluation.conversation.starting import start_new_turn
from arena.evaluation.conversation.turns import PreparedTurn, TurnPlan, plan_turn, prepare_regenerate
from arena.evaluation.conversation.view import masked_error
from arena.web.auth.budget import Units, claim_generations, client_gone, generation_budget
from arena.web.auth.ownership import check_conversation, check_turn
from arena.web.auth.principal import Principal
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, ModelRouter
from arena.web.errors import error_response, status_for
from arena.web.observability.hooks import observe_generation
from arena.web.observability.metrics import ACTIVE_STREAMS
from arena.web.openapi import error_responses
from arena.web.queued_stream import Started, queued_stream
from arena.web.schemas.chat import ChatCreate, InstanceResultPublic, MultiChatPublic, StopCreate, StopPublic
from arena.web.schemas.stream import (
    FORMAT_DESCRIPTION,
    SHOW_METRICS_DESCRIPTION,
    ArenaStreamLine,
    LineFormat,
    V3StreamLine,
)
from arena.web.streaming import (
    NDJSON,
    NdjsonStream,
    NdjsonStreamWithCleanup,
    RunningStreams,
    event_payload,
    line,
    log_broken_stream,
    running_streams,
    shown_metrics,
    start_payload,
    stream_failure,
    v3_metrics,
)
from arena.web.token_slices import sliced

router = APIRouter(prefix="/api", tags=["chat"], dependencies=[Evaluator])

ERRORS = error_responses(
    400, 404, 409, 413, 415, 422, 429, 503,
    e415="An attachment that is not a text file",
    e429="Over the caller's rate limit, or past their generations at once (ARENA_MAX_STREAMS_PER_USER)",
    e503="The server's generations (ARENA_MAX_GENERATIONS) stayed taken for ARENA_QUEUE_TIMEOUT_S while the "
    "request waited its turn (Retry-After); or Redis, which several processes share, is unreachable",
)
# The lines of a stream, either format: documented under 200 (application/x-ndjson).
STREAM_LINES = {
    200: {
        "model": Union[V3StreamLine, ArenaStreamLine],  # noqa: UP007 (a discriminated union inside)
        "description": "One JSON object per line: v3 lines by default, arena lines with `?format=arena`",
        "content": {NDJSON: {}},
    }
}
Format = Annotated[LineFormat, Query(alias="format", description=FORMAT_DESCRIPTION)]
ShowMetrics = Annotated[bool, Query(description=SHOW_METRICS_DESCRIPTION)]


async def _instances(body: ChatCreate, settings: AppSettings, models: ModelRouter, db: Db) -> list[ModelInstance]:
    instances = body.instances()
    from_conversation = not instances and body.conversation_id is not None
    if body.conversation_id is not None:
        # Continuing a conversation needs no instances: it has them (a masked one takes none other).
        instances = await asyncio.to_thread(
            turn_instances, database=db, conversation_id=body.conversation_id, requested=instances
        )
    check_instances(instances, max_instances=settings.max_instances)
    if len(instances) == 1 and not from_conversation:
        # A lone unknown model is the request's error (404); among several, that instance's.
        await models.check_known(instances[0].model)
    return instances


async def _plan(
    body: ChatCreate, settings: AppSettings, models: ModelRouter, db: Db, principal: Principal
) -> TurnPlan:
    """Check the request and work out what each instance will see; nothing is written yet."""
    attachments = check_attachments(
        [(a.filename, a.text) for a in body.attachments], max_bytes=settings.max_upload_bytes
    )
    instances = await _instances(body, settings, models, db)
    request = {
        "instances": instances,
        "history": [m.to_message() for m in body.history],
        "message": body.message,
        "system": body.system,
        "conversation_id": body.conversation_id,
        "history_limit": settings.history_limit,
        "attachments": attachments,
        "owner_id": principal.user_id,
    }
    if body.conversation_id is None:
        return plan_turn(database=db, **request)  # a new conversation: nothing to read
    return await asyncio.to_thread(plan_turn, database=db, **request)


async def _prepare_regenerate(body: ChatCreate, settings: AppSettings, db: Db) -> PreparedTurn:
    assert body.regenerate is not None
    if (body.message or "").strip() or [m for m in body.history if m.role != "system"] or body.attachments:
        raise InvalidInput("regenerate answers an existing turn again: send no message, history or attachments")
    return await asyncio.to_thread(
        prepare_regenerate,
        database=db,
        turn_id=body.regenerate.turn_id,
        key=body.regenerate.key,
        history_limit=settings.history_limit,
        conversation_id=body.conversation_id,
    )


async def _check(
    body: ChatCreate, settings: AppSettings, models: ModelRouter, db: Db, principal: Principal
) -> PreparedTurn | TurnPlan:
    """Everything a request is refused for (4xx), before it takes or waits for units; nothing is written."""
    if body.conversation_id is not None:
        await check_conversation(db, principal, body.conversation_id, need="own")
    if body.regenerate is not None:
        await check_turn(db, principal, body.regenerate.turn_id, need="own")
        return await _prepare_regenerate(body, settings, db)
    return await _plan(body, settings, models, db, principal)


async def _begin(
    pending: PreparedTurn | TurnPlan, settings: AppSettings, models: ModelRouter, db: Db, units: Units
) -> tuple[PreparedTurn, Comparison, dict[str, int]]:
    """With the units held (one per instance), start generating, then write the turn while the
    engines work on their first tokens. The last item: instance id -> its stored answer (the
    recorder's own map, filled as rows are made). Units of a turn that never starts go back."""
    with _returned_on_error(units):
        if isinstance(pending, PreparedTurn):  # a regenerate: the turn exists
            recorder = ResponseRecorder(database=db, turn_id=pending.turn_id)
            comparison = Comparison(
                router=models, targets=pending.targets, sink=recorder, timeout_s=settings.request_timeout
            )
            return pending, comparison, recorder.response_ids
        return await start_new_turn(router=models, database=db, plan=pending, timeout_s=settings.request_timeout)


@contextmanager
def _returned_on_error(units: Units) -> Iterator[None]:
    """Units taken for a turn that never starts (an error, a cancel) go straight back."""
    try:
        yield
    except BaseException:
        units.release()
        raise


@router.post("/stream_chat", responses={**ERRORS, **STREAM_LINES}, response_class=NdjsonStream)
async def stream_chat(
    body: ChatCreate,
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
    line_format: Format = "v3",
    show_metrics: ShowMetrics = False,
):
    """Stream every instance's answer as NDJSON lines, interleaved as tokens arrive. Past the
    server's generation budget the request waits its turn; in format arena the response starts
    at once with `queued` lines saying how many requests are ahead."""
    echo = line_format == "v3"
    streams = running_streams(request.app)
    await _not_running(streams, body)
    pending = await _check(body, settings, models, db, principal)
    # One unit per instance: 429 now past the caller's cap; past the server's, a place in the queue.
    claim = await generation_budget(request).request(principal.rate_key, len(pending.targets))
    gone = partial(client_gone, request)

    async def start(units: Units) -> Started:
        with _returned_on_error(units):
            await _not_running(streams, body)  # another tab may have started it while this one waited
        prepared, comparison, stored = await _begin(pending, settings, models, db, units)
        return await _answer_lines(request, prepared, comparison, units, stored, streams, echo, line_format, show_metrics)

    if claim.units is None and line_format == "arena":
        return queued_stream(claim, start, client_gone=gone)
    lines, cleanup = await start(await claim.granted(client_gone=gone))  # v3: waits without a word
    return NdjsonStreamWithCleanup(lines, cleanup=cleanup)


async def _not_running(streams: RunningStreams, body: ChatCreate) -> None:
    """409 while the answer to regenerate still streams, here or (with Redis) in another process."""
    if body.regenerate is not None and await streams.is_running(body.regenerate.turn_id, body.regenerate.key):
        raise Conflict(f"{body.regenerate.key} is still answering this turn: stop it first")


async def _answer_lines(
    request: Request,
    prepared: PreparedTurn,
    comparison: Comparison,
    units: Units,
    stored: dict[str, int],
    streams: RunningStreams,
    echo: bool,
    line_format: LineFormat,
    show_metrics: bool,
) -> Started:
    """The stream of a started turn (its first line, then every instance's), and its cleanup."""
    turn_id = prepared.turn_id
    # Registered before the first line: once a client knows the turn, it can stop it (from any process).
    try:
        stops = await streams.register(turn_id, {t.instance_id: prepared.aliases(t.instance_id) for t in prepared.targets})
    except BaseException:  # cancelled before the stream began: nothing goes on without a client
        await comparison.aclose()
        units.release()
        raise
    comparison.watch(stops)

    def label(instance_id: str) -> str | None:
        return prepared.labels.get(instance_id) if prepared.masked else None

    keys = {t.instance_id: prepared.key_of(t.instance_id, echo=echo) for t in prepared.targets}

    async def lines() -> AsyncIterator[bytes]:
        instances = [{"instance_id": keys[t.instance_id], "model": label(t.instance_id) or t.model} for t in prepared.targets]
        yield line(
            start_payload(
                conversation_id=prepared.conversation_id, turn_id=turn_id, instances=instances, line_format=line_format
            )
        )
        ended: set[str] = set()
        hide = prepared.masked and not show_metrics  # either format: metrics can tell models apart
        # Masked, no line per token: line counts and breaks would tell the models apart. Otherwise
        # what has arrived meanwhile goes out in one write (fewer sends under load).
        order = [t.instance_id for t in prepared.targets]
        batches = _one_by_one(sliced(comparison.events(), order=order)) if prepared.masked else comparison.batches()
        out: list[bytes] = []
        try:
            async for batch in batches:
                for event in batch:
                    if isinstance(event, FinishEvent):
                        observe_generation(request, event)  # counted, timed and logged (never its text)
                        streams.release(turn_id, stops[event.instance_id])
                        units.release(1)  # that instance's generation is over
                    shown = {"label": label(event.instance_id), "key": keys[event.instance_id]}
                    # A done line names the stored answer it ends: the page votes on that one alone.
                    answer = stored.get(event.instance_id) if isinstance(event, FinishEvent) else None
                    shown |= {"line_format": line_format, "hide_metrics": hide, "response_id": answer}
                    out.append(line(event_payload(event, **shown)))
                    if isinstance(event, FinishEvent):
                        ended.add(event.instance_id)
                chunk, out = b"".join(out), []
                yield chunk
        except Exception as exc:  # every instance still gets its done line, with the error
            log_broken_stream(turn_id, exc)
            if out:  # the lines made before it broke
                yield b"".join(out)
            for t in prepared.targets:
                if t.instance_id not in ended:
                    shown = {"label": label(t.instance_id), "key": keys[t.instance_id]}
                    failure = stream_failure(t.instance_id, t.model, exc)
                    answer = stored.get(t.instance_id)
                    yield line(
                        event_payload(failure, **shown, line_format=line_format, hide_metrics=hide, response_id=answer)
                    )

    async def cleanup() -> None:
        ACTIVE_STREAMS.dec()
        try:
            await comparison.aclose()  # a client gone mid-stream stops every instance
        finally:
            for handle in stops.values():
                streams.release(turn_id, handle)
            units.release()

    ACTIVE_STREAMS.inc()  # until cleanup, which runs however the response ends
    return lines(), cleanup


async def _one_by_one(events: AsyncIterator[Event]) -> AsyncIterator[list[Event]]:
    async for event in events:
        yield [event]


@router.post("/stop", response_model=StopPublic, responses=ERRORS)
async def stop_answer(body: StopCreate, request: Request, db: Db, principal: CurrentPrincipal) -> StopPublic:
    """Stop one instance of a stream in progress, whichever server process runs it (with
    ARENA_REDIS_URL); its stream then ends it with status "stopped"."""
    await check_turn(db, principal, body.turn_id, need="own")  # the same rule here and elsewhere
    if not await running_streams(request.app).stop(body.turn_id, body.key):
        raise NotFound(f"no answer of {body.key!r} to turn {body.turn_id} is streaming")
    return StopPublic(stopped=True)


@router.post("/chat", responses=ERRORS, response_model=InstanceResultPublic | MultiChatPublic)
async def chat(
    body: ChatCreate,
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
    line_format: Format = "v3",
    show_metrics: ShowMetrics = False,
):
    """Answer once every instance has finished; one instance gives its result alone. Every
    instance has a result (`error` says why one has no full answer); `errors` lists the failures."""
    pending = await _check(body, settings, models, db, principal)
    units = await claim_generations(request, principal, len(pending.targets))  # may wait its turn
    prepared, comparison, _ = await _begin(pending, settings, models, db, units)
    with units:
        try:
            finished = []
            async for event in comparison.events():
                if isinstance(event, FinishEvent):
                    observe_generation(request, event)  # counted, timed and logged (never its text)
                    finished.append(event)
                    units.release(1)  # that instance's generation is over
        finally:
            await comparison.aclose()

    def shown(event: FinishEvent) -> tuple[str, str, str | None]:
        """Key, model and error as the client may see them (labels only while blind)."""
        key = prepared.key_of(event.instance_id, echo=line_format == "v3")
        if not prepared.masked:
            return key, event.model, event.error
        label = prepared.labels[event.instance_id]
        return key, label, masked_error(event.status, event.error)

    def result_metrics(event: FinishEvent) -> dict[str, Any] | None:
        """v3's metrics in either format; withheld while masked: all null (v3) or none (arena)."""
        if event.metrics is None:
            return None
        if hide_metrics:
            return shown_metrics(event.metrics, line_format=line_format, withheld=True)
        return v3_metrics(event.metrics)

    results = {}
    errors = {}
    hide_metrics = prepared.masked and not show_metrics  # as the stream: metrics can tell models apart
    # In display order (labels' order while blind), never the order they finished in: that says who was faster.
    position = {target.instance_id: n for n, target in enumerate(prepared.targets)}
    for event in sorted(finished, key=lambda event: position[event.instance_id]):
        key, model, error = shown(event)
        error = None if event.status == "ok" else error or event.status
        results[key] = InstanceResultPublic(
            model=model,
            instance_id=key,
            assistant=event.text,
            response=event.text,
            metrics=result_metrics(event),
            status=event.status,
            error=error,
            conversation_id=prepared.conversation_id,
        )
        if error is not None:
            errors[key] = error
    if len(prepared.targets) == 1:
        if errors:
            event = finished[0]
            status = status_for(event.exception) if isinstance(event.exception, ArenaError) else 502
            message = shown(event)[2] or "generation failed"
            return error_response(status, message, conversation_id=prepared.conversation_id)
        return next(iter(results.values()))
    return MultiChatPublic(results=results, errors=errors, conversation_id=prepared.conversation_id)
