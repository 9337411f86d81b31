"""GET /api/leaderboard: ratings with confidence intervals (the page GET /leaderboard is in routes/pages.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from arena.evaluation.ratings.battles import MAX_ROUNDS, Standings, Unit, load_battles, standings
from arena.web.auth.principal import Viewer
from arena.web.deps import Db
from arena.web.schemas import IsoDateTime, error_responses

router = APIRouter(tags=["leaderboard"])

ERRORS = error_responses(400, 422)
DEFAULT_ROUNDS = 1000


class RatingRow(BaseModel):
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


class LeaderboardFilters(BaseModel):
    source: Literal["human", "judge", "all"]
    judge_model: str | None
    category: str | None
    since: datetime | None
    until: datetime | None
    by: Unit
    rounds: int
    seed: int


class LeaderboardOut(BaseModel):
    filters: LeaderboardFilters
    rows: list[RatingRow] = Field(description="Best rating first")
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


def _out(result: Standings, filters: LeaderboardFilters) -> LeaderboardOut:
    data = result.board.to_dict()
    return LeaderboardOut(
        filters=filters,
        rows=[RatingRow(**row, elo=round(result.elo[row["model"]], 2)) for row in data["rows"]],
        models=data["models"],
        win_rate=data["win_rate"],
        counts=data["counts"],
        total_battles=data["total_battles"],
        battles_by_source=result.battles_by_source,
        judge_models=result.judge_models,
        categories=result.categories,
        latest_battle_at=result.latest,
    )


@router.get("/api/leaderboard", response_model=LeaderboardOut, responses=ERRORS, dependencies=[Viewer])
async def get_leaderboard(
    db: Db,
    source: Literal["human", "judge", "all"] = Query("all", description="Human votes, judge verdicts, or both"),
    judge_model: str | None = Query(None, min_length=1, max_length=300),
    category: str | None = Query(None, min_length=1, max_length=100),
    since: IsoDateTime | None = Query(None, description="Battles at or after this time (UTC when no zone is given)"),
    until: IsoDateTime | None = Query(None, description="Battles before this time"),
    by: Unit = Query("model", description="Rate models (all their settings pooled) or each instance"),
    rounds: int = Query(DEFAULT_ROUNDS, ge=0, le=MAX_ROUNDS, description="Bootstrap rounds; 0 = no intervals"),
    seed: int = Query(0, ge=0, le=2**31 - 1, description="Bootstrap seed: the same seed gives the same intervals"),
) -> LeaderboardOut:
    """Bradley–Terry ratings with 95% bootstrap intervals, Elo, win rates and battle counts."""

    def compute() -> LeaderboardOut:
        result = standings(
            load_battles(db, unit=by),
            source=None if source == "all" else source,
            judge_model=judge_model,
            category=category,
            since=since,
            until=until,
            rounds=rounds,
            seed=seed,
        )
        filters = LeaderboardFilters(
            source=source,
            judge_model=judge_model,
            category=category,
            since=since,
            until=until,
            by=by,
            rounds=rounds,
            seed=seed,
        )
        return _out(result, filters)

    return await asyncio.to_thread(compute)
