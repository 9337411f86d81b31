"""GET /api/leaderboard: ratings with confidence intervals (the page GET /leaderboard is in routes/pages.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Query

from arena.evaluation.ratings.board_warnings import BoardWarnings, board_warnings
from arena.evaluation.ratings.names import names_for
from arena.evaluation.ratings.pass_rates import PassRate, contestant_pass_rates
from arena.evaluation.ratings.standings import MAX_ROUNDS, Standings, Unit
from arena.evaluation.ratings.stored import stored_standings
from arena.web.deps import Db, Viewer
from arena.web.openapi import error_responses
from arena.web.routes import leaderboard_pareto
from arena.web.schemas.common import IsoDateTime
from arena.web.schemas.leaderboard import (
    ContestantPassRatePublic,
    LeaderboardFiltersPublic,
    LeaderboardPublic,
    PassRatePublic,
    RatingPublic,
)
from arena.web.schemas.style_control import StyleCoefficientPublic, StyleControlPublic

router = APIRouter(tags=["leaderboard"])
router.include_router(leaderboard_pareto.router)  # GET /api/leaderboard/pareto

ERRORS = error_responses(400, 422)
DEFAULT_ROUNDS = 1000


def _rate(rate: PassRate | None) -> PassRatePublic | None:
    return None if rate is None else PassRatePublic(passed=rate.passed, total=rate.total, rate=rate.rate)


def _style(result: Standings) -> tuple[StyleControlPublic | None, dict[str, tuple[float, int]]]:
    """The style coefficients, and each model's raw rating and raw rank (1 + how many rate higher)."""
    if result.style is None:
        return None, {}
    raw = result.style.raw_ratings
    ranks = {model: (rating, 1 + sum(other > rating for other in raw.values())) for model, rating in raw.items()}
    coefficients = [StyleCoefficientPublic(**vars(coefficient)) for coefficient in result.style.coefficients]
    return StyleControlPublic(coefficients=coefficients, battles_without_style=result.style.battles_without_style), ranks


def _out(
    result: Standings, filters: LeaderboardFiltersPublic, rates: dict[str, PassRate] | None, warnings: BoardWarnings
) -> LeaderboardPublic:
    data = result.board.to_dict()
    names = result.names
    tested: list[ContestantPassRatePublic] | None = None
    if rates is not None:  # contestants without battles are named among themselves
        names = {**names_for([key for key in rates if key not in names], unit=filters.by), **names}
        order = sorted(rates, key=lambda key: (-rates[key].rate, -rates[key].total, names[key]))
        tested = [
            ContestantPassRatePublic(model=key, name=names[key], **_rate(rates[key]).model_dump())  # type: ignore[union-attr]
            for key in order
        ]
    style, raw = _style(result)
    return LeaderboardPublic(
        filters=filters,
        rows=[
            RatingPublic(
                **(row | {"rank": rank}),
                name=names.get(row["model"], row["model"]),
                elo=round(result.elo[row["model"]], 2),
                pass_rate=_rate((rates or {}).get(row["model"])),
                raw_rating=raw[row["model"]][0] if row["model"] in raw else None,
                raw_rank=raw[row["model"]][1] if row["model"] in raw else None,
                votes_to_separate=to_separate,
                provisional=row["model"] in warnings.provisional,
                provisional_reason=warnings.provisional.get(row["model"]),
            )
            for row, rank, to_separate in zip(data["rows"], warnings.ranks, warnings.votes_to_separate, strict=True)
        ],
        models=data["models"],
        names=[names.get(model, model) for model in data["models"]],
        win_rate=data["win_rate"],
        counts=data["counts"],
        total_battles=data["total_battles"],
        battles_by_source=result.battles_by_source,
        judge_models=result.judge_models,
        categories=result.categories,
        latest_battle_at=result.latest,
        all_ties=warnings.all_ties,
        note=warnings.note,
        notes=warnings.notes,
        unreliable_judges=warnings.unreliable_judges,
        pass_rates=tested,
        style=style,
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
    include_imported: bool = Query(False, description="Also count votes restored by imports (left out by default)"),
    style_control: bool = Query(
        False, description="Hold the answers' style equal (length, headers, lists, bold), as Chatbot Arena does"
    ),
) -> LeaderboardPublic:
    """Bradley–Terry ratings with 95% bootstrap intervals, Elo, win rates and battle counts, and the
    promptfoo pass rates of benchmark runs with tests."""

    def compute() -> LeaderboardPublic:
        result = stored_standings(
            db,
            unit=by,
            include_imported=include_imported,
            source=source,
            judge_model=judge_model,
            category=category,
            since=since,
            until=until,
            rounds=rounds,
            seed=seed,
            style_control=style_control,
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
            include_imported=include_imported,
            style_control=style_control,
        )
        rates = contestant_pass_rates(
            db, unit=by, source=source, judge_model=judge_model, category=category, since=since, until=until
        )
        return _out(result, filters, rates, board_warnings(db, result))

    return await asyncio.to_thread(compute)
