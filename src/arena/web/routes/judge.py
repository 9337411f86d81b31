"""POST /api/judge: an LLM judges a stored turn's answers or raw answers; GET lists the verdicts.

A raw-prompt judge run belongs to whoever ran it; one about a stored turn follows its
conversation (``web/auth/ownership.py``).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request

from arena.evaluation.judge.judges import cloud_host, environment_key, open_judge
from arena.evaluation.judge.records import Disclosure, new_run_id, record_outcome, stored_judgments, turn_task
from arena.evaluation.judge.task import Candidate, JudgeTask, check_task, run_judge
from arena.storage import audit
from arena.storage.models import Judgment
from arena.web.audit_events import record_event
from arena.web.auth.limits import claim_generations
from arena.web.auth.ownership import check_conversation, reader_of
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, ModelRouter, Viewer
from arena.web.openapi import error_responses
from arena.web.schemas.common import CONVERSATION_ID
from arena.web.schemas.judge import (
    CloudProviderList,
    CloudProviderPublic,
    JudgeCreate,
    JudgeRunPublic,
    JudgmentList,
    JudgmentPublic,
    OrderPublic,
)

router = APIRouter(prefix="/api/judge", tags=["judge"], dependencies=[Viewer])

ERRORS = error_responses(
    400, 404, 413, 422, 429, 502, 503, 504,
    e429="Over the caller's rate limit, or past their generations at once (ARENA_MAX_STREAMS_PER_USER)",
    e502="The judge gave no usable verdict",
)
PRIVACY_NOTICE = (
    "A cloud judge sends the question, the reference answer and every answer it judges to {host}. "
    "Nothing leaves this machine unless you agree (allow_cloud: true)."
)


def _order(row: Judgment, disclosure: Disclosure, *, swapped: bool) -> OrderPublic:
    parsed = (row.parsed or {}).get("ba" if swapped else "ab")
    if not isinstance(parsed, dict):  # a row written in another shape: at most an explanation
        parsed = {"explanation": parsed if isinstance(parsed, str) else None}
    first, second = (row.key_b, row.key_a) if swapped else (row.key_a, row.key_b)
    return OrderPublic(
        shown_as_a=disclosure.key(first) or "",
        shown_as_b=disclosure.key(second),
        verdict=row.verdict_ba if swapped else row.verdict_ab,
        score=row.score if row.mode != "pairwise" else None,
        explanation=parsed.get("explanation"),
        read_by=parsed.get("read_by"),
        raw=(row.raw_ba if swapped else row.raw_ab) or "",
    )


def _judgment_out(row: Judgment, disclosure: Disclosure) -> JudgmentPublic:
    orders = [_order(row, disclosure, swapped=False)]
    if row.mode == "pairwise":
        orders.append(_order(row, disclosure, swapped=True))
    winner_key = {"a": row.key_a, "b": row.key_b}.get(row.winner or "")
    return JudgmentPublic(
        id=row.id,
        run_id=row.run_id,
        conversation_id=row.conversation_id,
        turn_id=row.turn_id,
        judge_model=row.judge_model,
        cloud=row.cloud,
        mode=row.mode,
        category=row.category,
        key_a=disclosure.key(row.key_a) or "",
        key_b=disclosure.key(row.key_b),
        model_a=disclosure.model(row.key_a),
        model_b=disclosure.model(row.key_b),
        winner=row.winner,  # type: ignore[arg-type]
        winner_key=disclosure.key(winner_key),
        consistent=row.consistent,
        score=row.score,
        orders=orders,
        created_at=row.created_at,
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
    """Judge answers pairwise (both orders) or grade them 1–10; every verdict is stored."""
    endpoint = body.check_shape(settings.cloud_judges)
    if body.conversation_id is not None:
        await check_conversation(db, principal, body.conversation_id, need="read")
    disclosure = Disclosure()
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
        task, disclosure = prepared.task, prepared.disclosure
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
    cloud = body.cloud
    async with claim_generations(request, principal, 1):  # the judge generates one answer at a time
        try:
            async with open_judge(
                router=models,
                judge_model=body.judge_model,
                cloud_endpoint=endpoint,
                cloud_model=cloud.model if cloud else None,
                cloud_api_key=cloud.api_key if cloud else None,
                options=body.options,
                timeout_s=settings.request_timeout,
            ) as judge:
                outcome = await run_judge(task, judge=judge)
        except Exception as exc:
            # The question and answers may already have left for the judge (a cloud provider,
            # with the key): a failed run is recorded too, by the error's kind (its text could
            # echo what was sent).
            await record_event(
                request,
                audit.JUDGE_FAILURE,
                target=body.conversation_id,
                judge_model=f"{endpoint.provider}:{cloud.model}" if endpoint and cloud else body.judge_model,
                cloud=endpoint is not None,
                endpoint=endpoint.name if endpoint else None,
                sent_to=cloud_host(endpoint) if endpoint else None,
                error=type(exc).__name__,
            )
            raise
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
    )
    await record_event(
        request,
        audit.JUDGE,
        target=body.conversation_id,
        run_id=rows[0].run_id,
        judge_model=outcome.judge_model,
        cloud=outcome.cloud,
    )
    return JudgeRunPublic(
        run_id=rows[0].run_id,
        judge_model=outcome.judge_model,
        cloud=outcome.cloud,
        sent_to=cloud_host(endpoint) if endpoint else None,
        mode=outcome.mode,
        judgments=[_judgment_out(row, disclosure) for row in rows],
    )


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
        judgments=[_judgment_out(row, disclosures.get(row.conversation_id or "", Disclosure())) for row in rows]
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
