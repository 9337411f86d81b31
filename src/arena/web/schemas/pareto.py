"""GET /api/leaderboard/pareto: rating against speed and memory (``evaluation.ratings.pareto``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ParetoPointPublic(BaseModel):
    key: str = Field(description="The contestant: a model id, or an instance id by instance")
    name: str
    rating: float
    value: float = Field(description="tokens/s, or bytes")
    optimal: bool = Field(
        description="On the frontier: no other is at least as good on the axis, not clearly lower rated (95% "
        "intervals overlapping count as equal quality), and clearly higher rated or better on the axis"
    )
    answers: int | None = Field(None, description="Speed points: the answers the mean rests on")
    ci_low: float | None = Field(None, description="The rating's 95% interval (bootstrap)")
    ci_high: float | None = None


class ParetoChartPublic(BaseModel):
    axis: Literal["tokens_per_sec", "disk_bytes", "resident_bytes"]
    title: str
    more_is_better: bool
    host: str | None = Field(None, description="Speed charts: the machine the speeds were measured on")
    engine: str | None = Field(None, description="Speed charts: the engine (kind, and endpoint for benchmarks)")
    points: list[ParetoPointPublic]
    unknown: list[str] = Field(description="Rated contestants without a value on this axis")
    no_signal: bool = Field(
        False, description="Every battle a tie: the ratings cannot tell them apart, so no point is marked optimal"
    )


class ParetoPublic(BaseModel):
    category: str | None
    by: Literal["model", "instance"]
    charts: list[ParetoChartPublic]
