"""GET /api/bench/compare: two instances of one run, or of two runs, prompt by prompt (included
by routes/bench.py under its prefix and its evaluator guard). Each run must be the caller's to read."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from arena.evaluation.bench.compare_runs import compare_runs
from arena.web.auth.ownership import check_bench_run
from arena.web.deps import CurrentPrincipal, Db
from arena.web.openapi import error_responses
from arena.web.schemas.bench_compare import ComparisonPublic

router = APIRouter()
Instance = Annotated[str | None, Query(min_length=1, max_length=300, description="Instance id, label or model")]


@router.get("/compare", response_model=ComparisonPublic, responses=error_responses(400, 404, 422))
async def get_bench_comparison(
    db: Db,
    principal: CurrentPrincipal,
    run_a: Annotated[str, Query(min_length=1, max_length=64, description="Run id (or a unique prefix)")],
    run_b: Annotated[str | None, Query(min_length=1, max_length=64, description="Left out: within run_a")] = None,
    instance_a: Instance = None,
    instance_b: Instance = None,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1, description="Bootstrap seed")] = 0,
) -> ComparisonPublic:
    """Sign test, paired bootstrap interval, effect size and the prompts still needed to separate A and B."""
    first = await check_bench_run(db, principal, run_a, need="read")
    second = await check_bench_run(db, principal, run_b, need="read") if run_b else None
    result = await asyncio.to_thread(
        compare_runs, database=db, run_a=first, run_b=second, instance_a=instance_a, instance_b=instance_b, seed=seed
    )
    return ComparisonPublic.model_validate(result.to_dict())
