"""GET /api/leaderboard/pareto: the leaderboard's ratings against tokens/s (per host and engine)
and against model size; included by routes/leaderboard.py."""

from __future__ import annotations

import asyncio
from typing import Final, Literal

from fastapi import APIRouter, Query

from arena.engines.router import Router
from arena.evaluation.ratings.pareto import ModelSize
from arena.evaluation.ratings.pareto_board import stored_pareto
from arena.evaluation.ratings.standings import Unit
from arena.web.deps import Db, ModelRouter, Viewer
from arena.web.openapi import error_responses
from arena.web.schemas.common import IsoDateTime
from arena.web.schemas.pareto import ParetoChartPublic, ParetoPublic

router = APIRouter(tags=["leaderboard"])
SIZES_WAIT_S: Final = 5.0  # engines slow to list their models: the sizes are unknown this time


async def model_sizes(models: Router) -> dict[str, ModelSize]:
    """Each listed model's file size and, once loaded where the engine says, its resident memory."""
    try:
        inventory = await asyncio.wait_for(models.inventory(), SIZES_WAIT_S)
    except TimeoutError:
        return {}
    return {
        info.id: ModelSize(disk_bytes=info.size, resident_bytes=getattr(info, "resident_bytes", None))
        for info in inventory.models
    }


@router.get(
    "/api/leaderboard/pareto", response_model=ParetoPublic, responses=error_responses(400, 422), dependencies=[Viewer]
)
async def get_leaderboard_pareto(
    db: Db,
    models: ModelRouter,
    source: Literal["human", "judge", "all"] = Query("all", description="Human votes, judge verdicts, or both"),
    judge_model: str | None = Query(None, min_length=1, max_length=300),
    category: str | None = Query(None, min_length=1, max_length=100, description="This category's ratings"),
    since: IsoDateTime | None = Query(None),
    until: IsoDateTime | None = Query(None),
    by: Unit = Query("model", description="Models (all their settings pooled) or each instance"),
    include_imported: bool = Query(False),
) -> ParetoPublic:
    """Which contestants no other beats on both rating and speed (per host and engine) or size."""
    sizes = await model_sizes(models)
    _, charts = await asyncio.to_thread(
        stored_pareto,
        db,
        unit=by,
        sizes=sizes,
        include_imported=include_imported,
        source=source,
        judge_model=judge_model,
        category=category,
        since=since,
        until=until,
    )
    return ParetoPublic(
        category=category, by=by, charts=[ParetoChartPublic.model_validate(chart.to_dict()) for chart in charts]
    )
