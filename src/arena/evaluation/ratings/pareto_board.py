"""The leaderboard's Pareto charts from what is stored: the ratings of ``standings`` (same
filters: a category gives that category's chart), the stored speeds grouped by host and engine,
and the sizes the engines report for each contestant's model (by model id; None: unknown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from arena.evaluation.ratings.all_ties import every_battle_tied
from arena.evaluation.ratings.names import contestants
from arena.evaluation.ratings.pareto import ModelSize, ParetoChart, Speed, pareto_charts
from arena.evaluation.ratings.standings import Standings, Unit
from arena.evaluation.ratings.stored import stored_standings
from arena.storage.db import Database
from arena.storage.speed_figures import speed_figures

PARETO_ROUNDS: Final = 1000  # the leaderboard's own default: the same intervals the table shows


def stored_pareto(
    database: Database,
    *,
    unit: Unit = "model",
    sizes: Mapping[str, ModelSize],
    rounds: int = PARETO_ROUNDS,
    **filters: Any,
) -> tuple[Standings, list[ParetoChart]]:
    """``filters`` as ``stored_standings`` takes them. The bootstrap intervals decide dominance
    (overlapping: equal quality), and a board of nothing but ties names no frontier."""
    result = stored_standings(database, unit=unit, rounds=rounds, **filters)
    ratings = {row.model: row.rating for row in result.board.rows}
    intervals = {
        row.model: (row.ci_low, row.ci_high)
        for row in result.board.rows
        if row.ci_low is not None and row.ci_high is not None
    }
    with database.session() as session:
        # The speeds follow the board's category and dates (source and judge concern ratings only).
        figures = speed_figures(
            session, category=filters.get("category"), since=filters.get("since"), until=filters.get("until")
        )
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
    charts = pareto_charts(
        ratings,
        result.names,
        speeds=speeds,
        sizes=by_key,
        intervals=intervals,
        no_signal=every_battle_tied(result.board),
    )
    return result, charts
