"""The leaderboard's Pareto charts from what is stored: the ratings of ``standings`` (same
filters: a category gives that category's chart), the stored speeds grouped by host and engine,
and the sizes the engines report for each contestant's model (by model id; None: unknown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arena.evaluation.ratings.names import contestants
from arena.evaluation.ratings.pareto import ModelSize, ParetoChart, Speed, pareto_charts
from arena.evaluation.ratings.standings import Standings, Unit
from arena.evaluation.ratings.stored import stored_standings
from arena.storage.db import Database
from arena.storage.speed_figures import speed_figures


def stored_pareto(
    database: Database, *, unit: Unit = "model", sizes: Mapping[str, ModelSize], **filters: Any
) -> tuple[Standings, list[ParetoChart]]:
    """``filters`` as ``stored_standings`` takes them; the intervals are not needed (0 rounds)."""
    result = stored_standings(database, unit=unit, rounds=0, **filters)
    ratings = {row.model: row.rating for row in result.board.rows}
    with database.session() as session:
        figures = speed_figures(session)
    speeds = [
        Speed(
            key=figure.model if unit == "model" else figure.instance_id,
            host=figure.host,
            engine=figure.engine,
            tokens_per_sec=figure.tokens_per_sec,
            answers=figure.answers,
        )
        for figure in figures
    ]
    model_of = {c.key: c.model for c in contestants(list(ratings), unit=unit)}
    by_key = {key: sizes.get(model, ModelSize()) for key, model in model_of.items()}
    return result, pareto_charts(ratings, result.names, speeds=speeds, sizes=by_key)
