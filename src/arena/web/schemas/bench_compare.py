"""GET /api/bench/compare: two contestants prompt by prompt (``evaluation.bench.compare``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PromptDifferencePublic(BaseModel):
    prompt_id: str
    difference: float = Field(description="From −1 to +1; positive: A did better on this prompt")


class ComparisonPublic(BaseModel):
    run_a: str
    run_b: str
    instance_a: str
    instance_b: str
    label_a: str
    label_b: str
    basis: Literal["direct", "opponents"] = Field(
        description="direct: A and B judged against each other; opponents: their points against their opponents"
    )
    prompts: int = Field(description="Prompts with a verdict for both")
    better_a: int
    better_b: int
    even: int
    sign_test_p: float | None = Field(description="Exact two-sided binomial sign test; null without an uneven prompt")
    mean_difference: float | None
    ci_low: float | None = Field(description="Paired bootstrap 95% interval of the mean difference")
    ci_high: float | None
    cohens_dz: float | None = Field(description="Mean / standard deviation of the differences")
    prompts_needed: int | None = Field(
        description="Prompts for a two-sided 5% test to separate them with 80% power at this effect"
    )
    more_prompts: int | None
    separated: bool
    differences: list[PromptDifferencePublic]
    notes: list[str]
    judged_pairs: int = Field(description="Verdicts behind the differences that were judged in both orders")
    flipped_pairs: int = Field(description="Of those, the verdicts whose two orders disagreed (read as ties)")
    judge_unreliable: bool = Field(
        description="The judge flipped on most pairs: it could not tell them apart, more prompts would not help"
    )
