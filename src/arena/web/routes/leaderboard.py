"""GET /api/leaderboard (ratings with confidence intervals) and GET /leaderboard (the page)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from arena.evaluation.ratings.battles import MAX_ROUNDS, Standings, Unit, load_battles, standings
from arena.web.deps import Db, Viewer
from arena.web.auth.pages import PageViewer
from arena.web.routes.pages import PAGE_HEADERS
from arena.web.openapi import error_responses
from arena.web.schemas.common import IsoDateTime
from arena.web.schemas.leaderboard import LeaderboardFiltersPublic, LeaderboardPublic, RatingPublic

router = APIRouter(tags=["leaderboard"])
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

ERRORS = error_responses(400, 422)
DEFAULT_ROUNDS = 1000
PAGE_ROUNDS = 300  # the page polls: fewer rounds answer faster and move the bounds by little
POLL_SECONDS = 5


def _out(result: Standings, filters: LeaderboardFiltersPublic) -> LeaderboardPublic:
    data = result.board.to_dict()
    return LeaderboardPublic(
        filters=filters,
        rows=[RatingPublic(**row, elo=round(result.elo[row["model"]], 2)) for row in data["rows"]],
        models=data["models"],
        win_rate=data["win_rate"],
        counts=data["counts"],
        total_battles=data["total_battles"],
        battles_by_source=result.battles_by_source,
        judge_models=result.judge_models,
        categories=result.categories,
        latest_battle_at=result.latest,
    )


@router.get("/api/leaderboard", response_model=LeaderboardPublic, responses=ERRORS, dependencies=[Viewer])
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
) -> LeaderboardPublic:
    """Bradley–Terry ratings with 95% bootstrap intervals, Elo, win rates and battle counts."""

    def compute() -> LeaderboardPublic:
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
        filters = LeaderboardFiltersPublic(
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


@router.get("/leaderboard", response_class=HTMLResponse, include_in_schema=False, dependencies=[PageViewer])
async def get_leaderboard_page(request: Request) -> HTMLResponse:
    """The leaderboard page: it fetches /api/leaderboard itself and keeps it current."""
    return templates.TemplateResponse(
        request,
        "leaderboard.html",
        {"page": "leaderboard", "poll_seconds": POLL_SECONDS, "rounds": PAGE_ROUNDS},
        headers=PAGE_HEADERS,
    )
