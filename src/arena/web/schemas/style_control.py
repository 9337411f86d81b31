"""The style-control part of GET /api/leaderboard?style_control=true: the style coefficients and
what the style-controlled fit left out."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StyleCoefficientPublic(BaseModel):
    name: str = Field(description="length (characters), headers, lists (list items) or bold (bold spans)")
    value: float | None = Field(
        description="How much the answer with more of it is favoured, style aside: natural-log odds per root-mean-"
        "square unit of the normalised difference (a - b) / (a + b + 1); 0 = no effect, > 0 = preferred; null when "
        "not estimable"
    )
    ci_low: float | None = Field(description="Lower end of its 95% bootstrap interval; null when rounds=0")
    ci_high: float | None = Field(description="Upper end of its 95% bootstrap interval")
    not_estimable: str | None = Field(
        None,
        description="Why it cannot be estimated (value and interval are then null): no battle's two answers "
        "differed in it, e.g. no answer used a header",
    )


class StyleControlPublic(BaseModel):
    coefficients: list[StyleCoefficientPublic] = Field(description="length, headers, lists, bold, in that order")
    battles_without_style: int = Field(
        description="Battles left out because an answer's text is unknown (e.g. verdicts stored before the arena "
        "recorded which answers were judged)"
    )
