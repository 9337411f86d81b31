"""GET /api/judges: how far each judge model can be trusted, as the MT-bench paper measures it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from arena.evaluation.judge.stats import HumanAgreement, JudgeStats


class HumanAgreementPublic(BaseModel):
    compared: int = Field(description="(verdict, human pairwise vote) pairs about the same two answers")
    agreement: float | None = Field(
        description="Share where judge and human named the same winner, ties included (a verdict that flipped "
        "with the order is a tie; 'both bad' is a tie); null when there is nothing to compare"
    )
    kappa: float | None = Field(
        description="Cohen's κ of the same pairs: agreement beyond chance (1 = perfect, 0 = chance, <0 worse); "
        "null when undefined"
    )
    compared_without_ties: int = Field(description="The pairs where neither judge nor human said tie")
    agreement_without_ties: float | None
    kappa_without_ties: float | None

    @classmethod
    def of(cls, humans: HumanAgreement) -> HumanAgreementPublic:
        return cls.model_validate(humans, from_attributes=True)


class JudgeStatsPublic(BaseModel):
    judge_model: str
    pairs: int = Field(description="Pairs judged in both orders")
    consistency: float = Field(description="Share of pairs whose two orders agree (position consistency)")
    first_position: float = Field(
        description="Share of single verdicts (two per pair) for the answer shown first: near 0.5 without bias"
    )
    always_first: float = Field(description="Share of pairs where the first-shown answer won in both orders")
    tie_rate: float = Field(description="Share of single verdicts that said tie")
    humans: HumanAgreementPublic
    unreliable: bool = Field(description="Inconsistent on most of at least `min_pairs` pairs")
    advice: str | None = Field(description="What to do about an unreliable judge; null otherwise")

    @classmethod
    def of(cls, stats: JudgeStats) -> JudgeStatsPublic:
        return cls(
            judge_model=stats.judge_model,
            pairs=stats.pairs,
            consistency=stats.consistency,
            first_position=stats.first_position,
            always_first=stats.always_first,
            tie_rate=stats.tie_rate,
            humans=HumanAgreementPublic.of(stats.humans),
            unreliable=stats.unreliable,
            advice=stats.advice,
        )


class JudgesPublic(BaseModel):
    judges: list[JudgeStatsPublic] = Field(description="Every judge model with pairwise verdicts, by name")
    min_pairs: int = Field(description="Fewer pairs than this never flag a judge")
    unreliable_below: float = Field(description="A judge consistent on fewer than this share of pairs is flagged")
