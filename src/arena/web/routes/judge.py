"""POST /api/judge: an LLM judges a stored turn's answers or raw answers; GET lists the verdicts."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from arena.engines.base import SamplingOptions
from arena.errors import InvalidInput, NotFound
from arena.settings import CloudJudgeEndpoint, CloudProvider
from arena.evaluation.judge.task import Candidate, JudgeTask, Mode, check_task, run_judge
from arena.evaluation.judge.judges import (
    DEFAULT_JUDGE_OPTIONS,
    cloud_host,
    environment_key,
    find_cloud_judge,
    open_judge,
)
from arena.evaluation.judge.records import Disclosure, new_run_id, record_outcome, stored_judgments, turn_task
from arena.storage import audit
from arena.storage.models import Judgment
from arena.web.auth.ownership import check_conversation, check_conversation_sync
from arena.web.audit import record_event
from arena.web.auth.principal import CurrentPrincipal, Evaluator, Principal, Viewer
from arena.web.deps import AppSettings, Db, ModelRouter, generation_slots
from arena.web.auth.limits import claim_stream
from arena.web.schemas import CONVERSATION_ID, error_responses

router = APIRouter(prefix="/api/judge", tags=["judge"], dependencies=[Viewer])

ERRORS = error_responses(
    400, 404, 413, 422, 429, 502, 503, 504,
    e429="Over the caller's rate limit",
    e502="The judge gave no usable verdict",
)
PRIVACY_NOTICE = (
    "A cloud judge sends the question, the reference answer and every answer it judges to {host}. "
    "Nothing leaves this machine unless you agree (allow_cloud: true)."
)


class CloudJudgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="A cloud judge an admin configured (GET /api/judge/cloud lists them); "
        "defaults to the first one of `provider`. There is no way to give a URL.",
    )
    provider: CloudProvider | None = Field(None, description="Picks the first configured endpoint of this kind")
    model: str = Field(min_length=1, max_length=200, description="The provider's model name")
    api_key: SecretStr | None = Field(
        None, max_length=1000, description="Sent to the chosen endpoint only, for this request; else its own variable"
    )

    def resolve(self, endpoints: list[CloudJudgeEndpoint]) -> CloudJudgeEndpoint:
        if self.endpoint is None and self.provider is None:
            raise InvalidInput("a cloud judge needs cloud.endpoint (a configured name) or cloud.provider")
        return find_cloud_judge(endpoints, name=self.endpoint, provider=self.provider)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=400, description="Your name for this answer; never shown to the judge")
    text: str = Field(max_length=1_000_000)


class JudgeRequest(BaseModel):
    """A stored turn (`conversation_id` + `turn_id`) or a raw `prompt` with `answers`; a local
    `judge_model` or an opted-in `cloud` judge."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)
    turn_id: int | None = Field(None, ge=1)
    prompt: str | None = Field(None, min_length=1, max_length=1_000_000)
    system: str | None = Field(None, max_length=100_000, description="Raw prompts only: the system prompt answered")
    answers: list[AnswerIn] | None = Field(None, min_length=1, max_length=16)
    judge_model: str | None = Field(None, min_length=1, max_length=300, description="e.g. ollama:qwen2.5:7b")
    cloud: CloudJudgeIn | None = None
    allow_cloud: bool = Field(False, description="Agree to send the question and answers to the cloud judge")
    mode: Mode = "pairwise"
    reference: str | None = Field(None, min_length=1, max_length=1_000_000)
    baseline: str | None = Field(None, min_length=1, max_length=400, description="Judge each answer against this one")
    category: str | None = Field(None, min_length=1, max_length=100, description="Recorded with the verdicts")
    options: SamplingOptions = Field(
        default_factory=lambda: DEFAULT_JUDGE_OPTIONS,
        description="The judge's sampling; fields left out keep the judge defaults (greedy, seed 42, 512 tokens)",
    )

    @field_validator("options", mode="before")
    @classmethod
    def _start_from_judge_defaults(cls, value: Any) -> Any:
        return DEFAULT_JUDGE_OPTIONS.model_dump() | value if isinstance(value, dict) else value

    def check_shape(self, cloud_judges: list[CloudJudgeEndpoint]) -> CloudJudgeEndpoint | None:
        """Refuses a malformed request; returns the configured cloud endpoint it names, if any."""
        stored = self.conversation_id is not None or self.turn_id is not None
        raw = self.prompt is not None or self.answers is not None
        if stored == raw:
            raise InvalidInput("judge either a stored turn (conversation_id and turn_id) or a prompt with answers")
        if stored and (self.conversation_id is None or self.turn_id is None):
            raise InvalidInput("a stored turn needs both conversation_id and turn_id")
        if raw and (self.prompt is None or self.answers is None):
            raise InvalidInput("raw judging needs both prompt and answers")
        if stored and self.system is not None:
            raise InvalidInput("system is for raw prompts; a stored turn has its own")
        if (self.judge_model is None) == (self.cloud is None):
            raise InvalidInput("name exactly one judge: judge_model (a local model) or cloud")
        if self.cloud is None:
            return None
        endpoint = self.cloud.resolve(cloud_judges)
        if not self.allow_cloud:
            raise InvalidInput(
                f"a cloud judge sends the question and answers to {cloud_host(endpoint)}: "
                "set allow_cloud to true to agree"
            )
        return endpoint


class OrderOut(BaseModel):
    shown_as_a: str
    shown_as_b: str | None
    verdict: str | None = Field(description="A, B or tie as the judge said it; null for a grade")
    score: float | None
    explanation: str | None
    read_by: str | None = Field(description="json, partial_json or mt_bench: how the verdict was read")
    raw: str


class JudgmentOut(BaseModel):
    id: int
    run_id: str
    conversation_id: str | None
    turn_id: int | None
    judge_model: str
    cloud: bool
    mode: str
    category: str | None
    key_a: str
    key_b: str | None
    model_a: str | None
    model_b: str | None
    winner: Literal["a", "b", "tie"] | None
    winner_key: str | None
    consistent: bool | None = Field(description="False when the verdict flipped with the order (counted as a tie)")
    score: float | None
    orders: list[OrderOut]
    created_at: datetime


class JudgeResponse(BaseModel):
    run_id: str
    judge_model: str
    cloud: bool
    sent_to: str | None = Field(description="The host a cloud judge received the question and answers")
    mode: str
    judgments: list[JudgmentOut]


class JudgmentList(BaseModel):
    judgments: list[JudgmentOut]


class CloudProviderOut(BaseModel):
    name: str = Field(description="What to send as cloud.endpoint")
    provider: str
    default_base_url: str = Field(description="Where this endpoint sends the question and answers")
    key_variable: str
    key_in_environment: bool
    notice: str


class CloudProviders(BaseModel):
    providers: list[CloudProviderOut]


def _order(row: Judgment, disclosure: Disclosure, *, swapped: bool) -> OrderOut:
    parsed = (row.parsed or {}).get("ba" if swapped else "ab")
    if not isinstance(parsed, dict):  # a row written in another shape: at most an explanation
        parsed = {"explanation": parsed if isinstance(parsed, str) else None}
    first, second = (row.key_b, row.key_a) if swapped else (row.key_a, row.key_b)
    return OrderOut(
        shown_as_a=disclosure.key(first) or "",
        shown_as_b=disclosure.key(second),
        verdict=row.verdict_ba if swapped else row.verdict_ab,
        score=row.score if row.mode != "pairwise" else None,
        explanation=parsed.get("explanation"),
        read_by=parsed.get("read_by"),
        raw=(row.raw_ba if swapped else row.raw_ab) or "",
    )


def _judgment_out(row: Judgment, disclosure: Disclosure) -> JudgmentOut:
    orders = [_order(row, disclosure, swapped=False)]
    if row.mode == "pairwise":
        orders.append(_order(row, disclosure, swapped=True))
    winner_key = {"a": row.key_a, "b": row.key_b}.get(row.winner or "")
    return JudgmentOut(
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


@router.post("", response_model=JudgeResponse, responses=ERRORS, dependencies=[Evaluator])
async def judge_answers(
    body: JudgeRequest,
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
) -> JudgeResponse:
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
    slots = generation_slots(request)
    cloud = body.cloud
    async with (
        claim_stream(request, principal),
        slots,
        open_judge(
            router=models,
            judge_model=body.judge_model,
            cloud_endpoint=endpoint,
            cloud_model=cloud.model if cloud else None,
            cloud_api_key=cloud.api_key if cloud else None,
            options=body.options,
            timeout_s=settings.request_timeout,
        ) as judge,
    ):
        outcome = await run_judge(task, judge=judge)
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
    )
    await record_event(
        request,
        audit.JUDGE,
        target=body.conversation_id,
        run_id=rows[0].run_id,
        judge_model=outcome.judge_model,
        cloud=outcome.cloud,
    )
    return JudgeResponse(
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
    only those about conversations you may read (and, for evaluators, raw prompts)."""
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
    )
    if principal.user_id is not None:
        rows = await asyncio.to_thread(_readable, db, principal, rows)
    return JudgmentList(
        judgments=[_judgment_out(row, disclosures.get(row.conversation_id or "", Disclosure())) for row in rows]
    )


def _readable(db: Db, principal: Principal, rows: list[Judgment]) -> list[Judgment]:
    allowed: dict[str | None, bool] = {None: principal.has_role("evaluator")}
    for conversation_id in {row.conversation_id for row in rows} - {None}:
        try:
            check_conversation_sync(db, principal, conversation_id, need="read")
            allowed[conversation_id] = True
        except NotFound:
            allowed[conversation_id] = False
    return [row for row in rows if allowed[row.conversation_id]]


@router.get("/cloud", response_model=CloudProviders, dependencies=[Evaluator])
async def list_cloud_providers(settings: AppSettings) -> CloudProviders:
    """The cloud judges an admin configured, whether each has a key on the server, and the privacy notice."""
    return CloudProviders(
        providers=[
            CloudProviderOut(
                name=endpoint.name,
                provider=endpoint.provider,
                default_base_url=endpoint.base_url,
                key_variable=endpoint.api_key_env,
                key_in_environment=environment_key(endpoint) is not None,
                notice=PRIVACY_NOTICE.format(host=cloud_host(endpoint)),
            )
            for endpoint in settings.cloud_judges
        ]
    )
