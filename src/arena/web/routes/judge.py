"""POST /api/judge: an LLM judges a stored turn's answers or raw answers; GET lists the verdicts.

A raw-prompt judge run belongs to whoever ran it; one about a stored turn follows its
conversation (``web/auth/ownership.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request

from arena.endpoints import CloudJudgeEndpoint
from arena.errors import ArenaError
from arena.evaluation.judge.judges import cloud_host, environment_key, open_judge
from arena.evaluation.judge.progress import judge_with_progress
from arena.evaluation.judge.records import (
    Disclosure,
    as_stored_now,
    new_run_id,
    record_outcome,
    stored_judgments,
    turn_task,
)
from arena.evaluation.judge.task import Candidate, JudgeOutcome, JudgeTask, check_task, pairs_to_judge, run_judge
from arena.storage import audit
from arena.web.audit_events import record_event
from arena.web.auth.budget import claim_generations
from arena.web.auth.ownership import check_conversation, reader_of
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, ModelRouter, Viewer
from arena.web.errors import status_for
from arena.web.openapi import error_responses
from arena.web.schemas.common import CONVERSATION_ID
from arena.web.schemas.judge import (
    CloudProviderList,
    CloudProviderPublic,
    JudgeCreate,
    JudgeRunPublic,
    JudgmentList,
    JudgmentPublic,
)
from arena.web.schemas.judge_stream import JudgeStreamLine
from arena.web.streaming import NDJSON, NdjsonStream, NdjsonStreamWithCleanup, line

router = APIRouter(prefix="/api/judge", tags=["judge"], dependencies=[Viewer])
logger = logging.getLogger(__name__)

ERRORS = error_responses(
    400,
    404,
    413,
    422,
    429,
    502,
    503,
    504,
    e429="Over the caller's rate limit, or past their generations at once (ARENA_MAX_STREAMS_PER_USER)",
    e502="The judge gave no usable verdict",
)
STREAM_LINES = {
    200: {
        "model": JudgeStreamLine,
        "description": "One JSON object per line: start, progress…, then done (the stored run) or error",
        "content": {NDJSON: {}},
    }
}
INTERNAL = "the judge failed unexpectedly; nothing was stored (the server log says why)"
PRIVACY_NOTICE = (
    "A cloud judge sends the question, the reference answer and every answer it judges to {host}. "
    "Nothing leaves this machine unless you agree (allow_cloud: true)."
)


@dataclass(frozen=True, kw_only=True)
class _Prepared:
    task: JudgeTask
    disclosure: Disclosure
    endpoint: CloudJudgeEndpoint | None
    answers: dict[str, int] | None = None  # a stored turn's: candidate key -> the response judged


async def _prepare(body: JudgeCreate, settings: AppSettings, db: Db, principal: CurrentPrincipal) -> _Prepared:
    """Check the request and build the task; nothing is asked of any judge yet."""
    endpoint = body.check_shape(settings.cloud_judges)
    if body.conversation_id is not None:
        await check_conversation(db, principal, body.conversation_id, need="read")
    disclosure = Disclosure()
    answers: dict[str, int] | None = None
    if body.conversation_id is not None and body.turn_id is not None:
        prepared = await asyncio.to_thread(
            turn_task,
            db,
            conversation_id=body.conversation_id,
            turn_id=body.turn_id,
            mode=body.mode,
            reference=body.reference,
            baseline=body.baseline,
        )
        task, disclosure, answers = prepared.task, prepared.disclosure, prepared.answers
    else:
        assert body.prompt is not None and body.answers is not None
        task = JudgeTask(
            mode=body.mode,
            prompt=body.prompt,
            system=body.system,
            candidates=[Candidate(key=a.key, text=a.text) for a in body.answers],
            reference=body.reference,
            baseline=body.baseline,
        )
    check_task(task)  # before any model is asked
    return _Prepared(task=task, disclosure=disclosure, endpoint=endpoint, answers=answers)


def _open(body: JudgeCreate, prepared: _Prepared, models: ModelRouter, settings: AppSettings) -> Any:
    cloud = body.cloud
    return open_judge(
        router=models,
        judge_model=body.judge_model,
        cloud_endpoint=prepared.endpoint,
        cloud_model=cloud.model if cloud else None,
        cloud_api_key=cloud.api_key if cloud else None,
        options=body.options,
        timeout_s=settings.request_timeout,
    )


async def _record_failure(request: Request, body: JudgeCreate, endpoint: CloudJudgeEndpoint | None, error: str) -> None:
    # The question and answers may already have left for the judge (a cloud provider, with the
    # key): a failed or cancelled run is recorded too, by the error's kind (its text could echo
    # what was sent).
    cloud = body.cloud
    await record_event(
        request,
        audit.JUDGE_FAILURE,
        target=body.conversation_id,
        judge_model=f"{endpoint.provider}:{cloud.model}" if endpoint and cloud else body.judge_model,
        cloud=endpoint is not None,
        endpoint=endpoint.name if endpoint else None,
        sent_to=cloud_host(endpoint) if endpoint else None,
        error=error,
    )


async def _store(
    request: Request, body: JudgeCreate, outcome: JudgeOutcome, prepared: _Prepared, db: Db, principal: CurrentPrincipal
) -> JudgeRunPublic:
    """Every verdict of the run in one transaction, the audit entry, and the run as answered."""
    rows = await asyncio.to_thread(
        record_outcome,
        db,
        outcome=outcome,
        run_id=new_run_id(),
        options=body.options,
        reference=body.reference,
        category=body.category,
        conversation_id=body.conversation_id,
        turn_id=body.turn_id,
        owner_id=principal.user_id,
        answers=prepared.answers,
    )
    await record_event(
        request, audit.JUDGE, target=body.conversation_id, run_id=rows[0].run_id, judge_model=outcome.judge_model,
        cloud=outcome.cloud,
    )  # fmt: skip
    disclosure = prepared.disclosure
    if body.conversation_id is not None and prepared.answers is not None:
        disclosure = await asyncio.to_thread(as_stored_now, db, disclosure, conversation_id=body.conversation_id)
    return JudgeRunPublic(
        run_id=rows[0].run_id,
        judge_model=outcome.judge_model,
        cloud=outcome.cloud,
        sent_to=cloud_host(prepared.endpoint) if prepared.endpoint else None,
        mode=outcome.mode,
        judgments=[JudgmentPublic.from_row(row, disclosure) for row in rows],
    )


@router.post("", response_model=JudgeRunPublic, responses=ERRORS, dependencies=[Evaluator])
async def judge_answers(
    body: JudgeCreate,
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
) -> JudgeRunPublic:
    """Judge answers pairwise (both orders) or grade them 1–10; every verdict is stored.
    POST /api/judge/stream does the same and reports progress as it goes."""
    prepared = await _prepare(body, settings, db, principal)
    async with await claim_generations(request, principal, 1):  # one answer at a time; may wait its turn
        try:
            async with _open(body, prepared, models, settings) as judge:
                outcome = await run_judge(prepared.task, judge=judge)
        except Exception as exc:
            await _record_failure(request, body, prepared.endpoint, type(exc).__name__)
            raise
    return await _store(request, body, outcome, prepared, db, principal)


@router.post("/stream", responses={**ERRORS, **STREAM_LINES}, response_class=NdjsonStream, dependencies=[Evaluator])
async def stream_judge(
    body: JudgeCreate,
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
) -> NdjsonStream:
    """Judge as POST /api/judge does, as NDJSON lines: the judge's progress as it works, then the
    stored run. Closing the connection cancels the run: the judge stops and nothing is stored."""
    prepared = await _prepare(body, settings, db, principal)
    units = await claim_generations(request, principal, 1)  # 429, or a wait in the queue (503), before any line
    judging = AsyncExitStack()
    try:
        judge = await judging.enter_async_context(_open(body, prepared, models, settings))  # 404: no such judge
    except BaseException:
        units.release()
        await judging.aclose()
        raise
    task, shown = prepared.task, prepared.disclosure.key
    ended: list[str] = []  # "failed" or "stored" once the run has ended either way

    async def lines() -> AsyncIterator[bytes]:
        comparisons = len(pairs_to_judge(task)) if task.mode == "pairwise" else len(task.candidates)
        yield line(
            {
                "type": "start", "judge_model": judge.name, "cloud": judge.cloud, "mode": task.mode,
                "sent_to": cloud_host(prepared.endpoint) if prepared.endpoint else None,
                "calls": comparisons * (2 if task.mode == "pairwise" else 1), "comparisons": comparisons,
            }
        )  # fmt: skip
        outcome: JudgeOutcome | None = None
        try:
            async with aclosing(judge_with_progress(task, judge=judge)) as events:
                async for event in events:
                    if isinstance(event, JudgeOutcome):
                        outcome = event
                        continue
                    step = event.step
                    yield line(
                        {
                            "type": "progress", "call": step.index, "calls": step.total, "tokens": event.tokens,
                            "comparison": step.comparison, "comparisons": step.comparisons, "order": step.order,
                            "shown_as_a": shown(step.shown_a) or "", "shown_as_b": shown(step.shown_b),
                        }
                    )  # fmt: skip
        except Exception as exc:
            ended.append("failed")
            units.release()
            await _record_failure(request, body, prepared.endpoint, type(exc).__name__)
            if not isinstance(exc, ArenaError):
                logger.exception("the judge failed")
            status, message = (status_for(exc), str(exc)) if isinstance(exc, ArenaError) else (500, INTERNAL)
            yield line({"type": "error", "status": status, "error": message})
            return
        units.release()  # the judge has finished generating
        assert outcome is not None
        ended.append("stored")  # from here the verdicts are written, even if the client leaves now
        try:
            run = await _store(request, body, outcome, prepared, db, principal)
        except ArenaError as exc:  # e.g. the conversation was deleted while the judge worked
            yield line({"type": "error", "status": status_for(exc), "error": str(exc)})
            return
        yield line({"type": "done", "run": run.model_dump(mode="json")})

    async def cleanup() -> None:
        try:
            await judging.aclose()  # a cloud judge's connections
        finally:
            units.release()
            if not ended:  # the client cancelled or left: the judge was stopped, nothing stored
                await _record_failure(request, body, prepared.endpoint, "Cancelled")

    return NdjsonStreamWithCleanup(lines(), cleanup=cleanup)


@router.get("", response_model=JudgmentList, responses=ERRORS)
async def list_judgments(
    db: Db,
    principal: CurrentPrincipal,
    conversation_id: str | None = Query(None, pattern=CONVERSATION_ID),
    turn_id: int | None = Query(None, ge=1),
    run_id: str | None = Query(None, pattern=r"^[0-9a-f]{32}$"),
    judge_model: str | None = Query(None, min_length=1, max_length=300),
    limit: int = Query(100, ge=1, le=500),
) -> JudgmentList:
    """Stored verdicts, oldest first, narrowed by conversation, turn, run or judge; with accounts,
    only those about conversations you may read, and raw-prompt ones you ran (an admin: all)."""
    if conversation_id is not None:
        await check_conversation(db, principal, conversation_id, need="read")
    rows, disclosures = await asyncio.to_thread(
        stored_judgments,
        db,
        conversation_id=conversation_id,
        turn_id=turn_id,
        run_id=run_id,
        judge_model=judge_model,
        limit=limit,
        reader=reader_of(principal),
    )
    return JudgmentList(
        judgments=[
            JudgmentPublic.from_row(row, disclosures.get(row.conversation_id or "", Disclosure())) for row in rows
        ]
    )


@router.get("/cloud", response_model=CloudProviderList, dependencies=[Evaluator])
async def list_cloud_providers(settings: AppSettings, principal: CurrentPrincipal) -> CloudProviderList:
    """The cloud judges an admin configured (none by default: ARENA_CLOUD_JUDGES) and the privacy
    notice; whether the server holds a key for each is shown to admins only."""
    admin = principal.has_role("admin")
    return CloudProviderList(
        providers=[
            CloudProviderPublic(
                name=endpoint.name,
                provider=endpoint.provider,
                default_base_url=endpoint.base_url,
                key_variable=endpoint.api_key_env,
                key_in_environment=(environment_key(endpoint) is not None) if admin else None,
                notice=PRIVACY_NOTICE.format(host=cloud_host(endpoint)),
            )
            for endpoint in settings.cloud_judges
        ]
    )
