"""`arena leaderboard`: the ratings, with intervals, in the terminal (the same filters as the API).

Registered by ``cli.py`` (``app.command("leaderboard")(leaderboard)``); settings loading, error
printing and exit codes come from there.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from arena.errors import ArenaError
from arena.evaluation.ratings.battles import MAX_ROUNDS, Standings, load_battles, standings
from arena.evaluation.ratings.fit import Leaderboard

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
BAR_WIDTH = 24


def leaderboard(
    source: Annotated[str, typer.Option(help="human, judge or all")] = "all",
    judge_model: Annotated[str | None, typer.Option(help="Only this judge's verdicts")] = None,
    category: Annotated[str | None, typer.Option(help="Only battles of this category")] = None,
    since: Annotated[datetime | None, typer.Option(formats=DATE_FORMATS, help="From this time (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(formats=DATE_FORMATS, help="Before this time (UTC)")] = None,
    by: Annotated[str, typer.Option(help="model, or instance (a model at its settings)")] = "model",
    rounds: Annotated[int, typer.Option(min=0, max=MAX_ROUNDS, help="Bootstrap rounds; 0 = no intervals")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Bootstrap seed")] = 0,
    matrix: Annotated[bool, typer.Option("--matrix", help="Also print the win-rate matrix")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """Ratings (Bradley–Terry with 95% bootstrap intervals, and Elo) from votes and judge verdicts."""
    from arena.cli import EXIT_USAGE, errors, fail, load_settings, ready_database

    if source not in ("human", "judge", "all"):
        errors.print(f"[red]error:[/red] --source must be human, judge or all, got {source!r}", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    database = ready_database(load_settings())  # a first run has no tables yet; an empty board is the right answer
    try:
        result = standings(
            load_battles(database, unit=by),  # type: ignore[arg-type]
            source=None if source == "all" else source,  # type: ignore[arg-type]
            judge_model=judge_model,
            category=category,
            since=since,
            until=until,
            rounds=rounds,
            seed=seed,
        )
    except ArenaError as exc:
        raise fail(exc) from None
    finally:
        database.dispose()
    console = Console()
    if as_json:
        console.print_json(json.dumps(to_json(result), default=str))
        return
    console.print(ratings_table(result))
    if matrix and result.board.models:
        console.print(win_rate_table(result.board))


def to_json(result: Standings) -> dict[str, Any]:
    data = result.board.to_dict()
    for row in data["rows"]:
        row["elo"] = round(result.elo[row["model"]], 2)
    return data | {"battles_by_source": result.battles_by_source, "latest_battle_at": result.latest}


def interval_bar(*, low: float | None, high: float | None, rating: float, lowest: float, highest: float) -> str:
    """A text bar on a scale shared by every row: ─ outside, ━ inside the interval, ● the rating."""
    span = max(highest - lowest, 1e-9)

    def column(value: float) -> int:
        return min(BAR_WIDTH - 1, max(0, round((value - lowest) / span * (BAR_WIDTH - 1))))

    cells = ["─"] * BAR_WIDTH
    if low is not None and high is not None:
        for index in range(column(low), column(high) + 1):
            cells[index] = "━"
    cells[column(rating)] = "●"
    return "".join(cells)


def ratings_table(result: Standings) -> Table:
    board = result.board
    sources = ", ".join(f"{count} {name}" for name, count in result.battles_by_source.items())
    table = Table(title=f"Leaderboard · {board.total_battles} battles ({sources})", title_justify="left")
    for header, justify in [
        ("rank", "right"),
        ("model", "left"),
        ("rating", "right"),
        ("95% CI", "right"),
        ("", "left"),
        ("elo", "right"),
        ("battles", "right"),
        ("W·L·T·BB", "right"),
    ]:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    if not board.rows:
        table.caption = "No battles yet: vote in the arena or run a judge."
        return table
    ends = [v for row in board.rows for v in (row.ci_low, row.ci_high, row.rating) if v is not None]
    lowest, highest = min(ends), max(ends)
    for row in board.rows:
        interval = f"{row.ci_low:.0f}–{row.ci_high:.0f}" if row.ci_low is not None and row.ci_high is not None else "–"
        table.add_row(
            str(row.rank),
            row.model,
            f"{row.rating:.0f}",
            interval,
            interval_bar(low=row.ci_low, high=row.ci_high, rating=row.rating, lowest=lowest, highest=highest),
            f"{result.elo[row.model]:.0f}",
            str(row.battles),
            f"{row.wins}·{row.losses}·{row.ties}·{row.both_bad}",
        )
    return table


def win_rate_table(board: Leaderboard) -> Table:
    table = Table(title="Win rate (row against column, ties as half)", title_justify="left")
    table.add_column("")
    for index in range(len(board.models)):
        table.add_column(str(index + 1), justify="right")
    for i, model in enumerate(board.models):
        cells = []
        for j in range(len(board.models)):
            rate = board.win_rate[i][j]
            cells.append("—" if i == j else "" if rate != rate else f"{rate:.0%} ({int(board.counts[i][j])})")
        table.add_row(f"{i + 1}. {model}", *cells)
    return table
