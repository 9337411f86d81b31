"""/api/judge: what asks an LLM judge for verdicts, the verdicts it gives, and the cloud judges
an admin configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from arena.endpoints import CloudJudgeEndpoint, CloudProvider
from arena.engines.base import SamplingOptions
from arena.errors import InvalidInput
from arena.evaluation.judge.judges import DEFAULT_JUDGE_OPTIONS, cloud_host, find_cloud_judge
from arena.evaluation.judge.records import Disclosure
from arena.evaluation.judge.task import Mode
from arena.storage.models import Judgment
from arena.web.schemas.common import CONVERSATION_ID


class CloudJudgeCreate(BaseModel):
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


class AnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=400, description="Your name for this answer; never shown to the judge")
    text: str = Field(max_length=1_000_000)


class JudgeCreate(BaseModel):
    """A stored turn (`conversation_id` + `turn_id`) or a raw `prompt` with `answers`; a local
    `judge_model` or an opted-in `cloud` judge."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)
    turn_id: int | None = Field(None, ge=1)
    prompt: str | None = Field(None, min_length=1, max_length=1_000_000)
    system: str | None = Field(None, max_length=100_000, description="Raw prompts only: the system prompt answered")
    answers: list[AnswerCreate] | None = Field(None, min_length=1, max_length=16)
    judge_model: str | None = Field(None, min_length=1, max_length=300, description="e.g. ollama:qwen2.5:7b")
    cloud: CloudJudgeCreate | None = None
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


class OrderPublic(BaseModel):
    shown_as_a: str
    shown_as_b: str | None
    verdict: str | None = Field(description="A, B or tie as the judge said it; null for a grade")
    score: float | None
    explanation: str | None
    read_by: str | None = Field(description="json, partial_json or mt_bench: how the verdict was read")
    raw: str

    @classmethod
    def from_row(cls, row: Judgment, disclosure: Disclosure, *, swapped: bool) -> OrderPublic:
        parsed = (row.parsed or {}).get("ba" if swapped else "ab")
        if not isinstance(parsed, dict):  # a row written in another shape: at most an explanation
            parsed = {"explanation": parsed if isinstance(parsed, str) else None}
        first, second = (row.key_b, row.key_a) if swapped else (row.key_a, row.key_b)
        return cls(
            shown_as_a=disclosure.key(first) or "",
            shown_as_b=disclosure.key(second),
            verdict=row.verdict_ba if swapped else row.verdict_ab,
            score=row.score if row.mode != "pairwise" else None,
            explanation=parsed.get("explanation"),
            read_by=parsed.get("read_by"),
            raw=(row.raw_ba if swapped else row.raw_ab) or "",
        )


class JudgmentPublic(BaseModel):
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
    about_earlier_answer: bool = Field(
        description="True when a regenerate has replaced an answer this verdict judged: it is kept (and still "
        "counts on the leaderboard, a fair battle between the answers it judged) but is not about the answer shown now"
    )
    orders: list[OrderPublic]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Judgment, disclosure: Disclosure) -> JudgmentPublic:
        """A stored verdict as `disclosure` lets it be shown (blind labels only, while masked)."""
        orders = [OrderPublic.from_row(row, disclosure, swapped=False)]
        if row.mode == "pairwise":
            orders.append(OrderPublic.from_row(row, disclosure, swapped=True))
        winner_key = {"a": row.key_a, "b": row.key_b}.get(row.winner or "")
        return cls(
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
            about_earlier_answer=disclosure.about_earlier_answer(row),
            orders=orders,
            created_at=row.created_at,
        )


class JudgeRunPublic(BaseModel):
    run_id: str
    judge_model: str
    cloud: bool
    sent_to: str | None = Field(description="The host a cloud judge received the question and answers")
    mode: str
    judgments: list[JudgmentPublic]


class JudgmentList(BaseModel):
    judgments: list[JudgmentPublic]


class CloudProviderPublic(BaseModel):
    name: str = Field(description="What to send as cloud.endpoint")
    provider: str
    default_base_url: str = Field(description="Where this endpoint sends the question and answers")
    key_variable: str
    key_in_environment: bool | None = Field(
        description="Whether the server holds its key; null unless you are an admin"
    )
    notice: str


class CloudProviderList(BaseModel):
    providers: list[CloudProviderPublic]
