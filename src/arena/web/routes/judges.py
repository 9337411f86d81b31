"""GET /api/judges (each judge model's consistency, position bias, ties and agreement with humans)
and the page GET /judges that shows them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from arena.evaluation.judge.stats import MIN_PAIRS, UNRELIABLE_BELOW
from arena.evaluation.judge.trust import stored_judge_stats
from arena.web.auth.pages import PageViewer
from arena.web.deps import Db, Viewer
from arena.web.openapi import error_responses
from arena.web.routes.pages import render
from arena.web.schemas.judges import JudgesPublic, JudgeStatsPublic

router = APIRouter(tags=["judges"])


@router.get("/api/judges", response_model=JudgesPublic, responses=error_responses(422), dependencies=[Viewer])
async def get_judges(
    db: Db,
    judge_model: str | None = Query(None, min_length=1, max_length=300, description="Only this judge model"),
) -> JudgesPublic:
    """Per judge model, over the verdicts the leaderboard counts: position consistency, first-position
    rate, tie rate, agreement with human votes on the same answers (with and without ties, Cohen's κ)."""
    judges = await asyncio.to_thread(stored_judge_stats, db, judge_model=judge_model)
    return JudgesPublic(
        judges=[JudgeStatsPublic.of(stats) for stats in judges], min_pairs=MIN_PAIRS, unreliable_below=UNRELIABLE_BELOW
    )


@router.get("/judges", response_class=HTMLResponse, include_in_schema=False, dependencies=[PageViewer])
async def get_judges_page(request: Request) -> HTMLResponse:
    """The judges' numbers: it fetches /api/judges itself."""
    return render(request, "judges", min_pairs=MIN_PAIRS, unreliable_below=UNRELIABLE_BELOW)
