"""GET /api/leaderboard: ratings with their intervals, win rates and battle counts, and the
filters that chose the battles."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from arena.evaluation.ratings.standings import Unit


class RatingPublic(BaseModel):
    model: str = Field(description="A model id, or an instance id when rated by instance")
    rating: float = Field(description="Bradley–Terry rating (Elo scale, mean 1000)")
    ci_low: float | None = Field(description="95% bootstrap interval; null when rounds=0")
    ci_high: float | None
    rank: int = Field(description="1 + the number of models whose lower bound is above this upper bound")
    elo: float = Field(description="Online Elo over the same battles, oldest first")
    battles: int
    wins: int
    losses: int
    ties: int
    both_bad: int


class LeaderboardFiltersPublic(BaseModel):
    source: Literal["human", "judge", "all"]
    judge_model: str | None
    category: str | None
    since: datetime | None
    until: datetime | None
    by: Unit
    rounds: int
    seed: int
    include_imported: bool = False


class LeaderboardPublic(BaseModel):
    filters: LeaderboardFiltersPublic
    rows: list[RatingPublic] = Field(description="Best rating first")
    models: list[str] = Field(description="The rows' models in order: the index of both matrices")
    win_rate: list[list[float | None]] = Field(
        description="win_rate[i][j]: share of i's battles against j won, ties half"
    )
    counts: list[list[int]] = Field(description="counts[i][j]: battles between i and j, both-bad included")
    total_battles: int
    battles_by_source: dict[str, int]
    judge_models: list[str] = Field(description="Every judge with battles: the choices for judge_model")
    categories: list[str]
    latest_battle_at: datetime | None
