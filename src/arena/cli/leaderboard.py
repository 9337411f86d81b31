"""`arena leaderboard`: the ratings, with intervals, in the terminal (the same filters as the API).

Registered by ``arena.cli``; settings, the database, error printing and exit codes come from
``arena.cli._common``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from arena.cli._common import exit_on_error, opened_database
from arena.cli._tables import Column, print_table
from arena.evaluation.ratings.board_warnings import BoardWarnings, board_warnings
from arena.evaluation.ratings.fit import Leaderboard
from arena.evaluation.ratings.pass_rates import PassRate, contestant_pass_rates
from arena.evaluation.ratings.standings import MAX_ROUNDS, Standings
from arena.evaluation.ratings.stored import stored_standings

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
BAR_WIDTH = 24


def leaderboard(
    # The choices the API's `source` takes; Typer refuses any other with exit code 2, as the API with 422.
    source: Annotated[Literal["human", "judge", "all"], typer.Option(help="human, judge or all")] = "all",
    judge_model: Annotated[str | None, typer.Option(help="Only this judge's verdicts")] = None,
    category: Annotated[str | None, typer.Option(help="Only battles of this category")] = None,
    since: Annotated[datetime | None, typer.Option(formats=DATE_FORMATS, help="From this time (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(formats=DATE_FORMATS, help="Before this time (UTC)")] = None,
    by: Annotated[str, typer.Option(help="model, or instance (a model at its settings)")] = "model",
    rounds: Annotated[int, typer.Option(min=0, max=MAX_ROUNDS, help="Bootstrap rounds; 0 = no intervals")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Bootstrap seed")] = 0,
    include_imported: Annotated[
        bool, typer.Option("--include-imported", help="Also count votes restored by imports")
    ] = False,
    style_control: Annotated[
        bool, typer.Option("--style-control", help="Hold answer style equal: length, headers, lists, bold")
    ] = False,
    matrix: Annotated[bool, typer.Option("--matrix", help="Also print the win-rate matrix")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """Ratings (Bradley–Terry with 95% bootstrap intervals, and Elo) from votes and judge verdicts."""
    # A first run has no tables yet: the database is migrated, and an empty board is the right answer.
    filters: dict[str, Any] = {
        "include_imported": include_imported,
        "source": source,
        "judge_model": judge_model,
        "category": category,
        "since": since,
        "until": until,
    }
    with opened_database() as database, exit_on_error():
        # `by` is checked by load_battles.
        result = stored_standings(
            database, unit=by, rounds=rounds, seed=seed, style_control=style_control, **filters  # type: ignore[arg-type]
        )
        # One model at several settings: its battles are within one model, which a board by model leaves out.
        hidden = 0
        if by == "model" and not result.board.rows:
            hidden = stored_standings(database, unit="instance", rounds=0, **filters).board.total_battles
        warnings = board_warnings(database, result)
        rates = contestant_pass_rates(
            database, unit=by, source=source, judge_model=judge_model, category=category, since=since, until=until  # type: ignore[arg-type]
        )
    console = Console()  # made now, so it measures the terminal (COLUMNS) it prints to
    if as_json:
        tests = {key: {"passed": r.passed, "total": r.total, "rate": r.rate} for key, r in (rates or {}).items()}
        console.print_json(json.dumps(to_json(result, warnings) | {"pass_rates": tests or None}, default=str))
        return
    print_ratings(console, result, warnings, hidden_by_model=hidden)
    if result.style is not None and result.board.models:
        print_style(console, result)
    if rates:
        print_pass_rates(console, rates)
    if matrix and result.board.models:
        print_win_rates(console, result.board)


def to_json(result: Standings, warnings: BoardWarnings) -> dict[str, Any]:
    data = result.board.to_dict()
    raw = result.style.raw_ratings if result.style is not None else {}
    for row, rank, votes in zip(data["rows"], warnings.ranks, warnings.votes_to_separate, strict=True):
        row["elo"] = round(result.elo[row["model"]], 2)
        row |= {"rank": rank, "votes_to_separate": votes, "provisional": row["model"] in warnings.provisional}
        row["provisional_reason"] = warnings.provisional.get(row["model"])
        if raw:
            row["raw_rating"] = raw[row["model"]]
    if result.style is not None:
        data["style"] = {
            "coefficients": [vars(coefficient) for coefficient in result.style.coefficients],
            "battles_without_style": result.style.battles_without_style,
        }
    return data | {
        "battles_by_source": result.battles_by_source,
        "latest_battle_at": result.latest,
        "all_ties": warnings.all_ties,
        "note": warnings.note,
        "notes": warnings.notes,
        "unreliable_judges": warnings.unreliable_judges,
    }


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


RATING_COLUMNS = (
    Column(header="rank", justify="right", required=True),
    Column(header="model", keep=True),  # a model id, or an instance id with --by instance
    Column(header="rating", justify="right", required=True),  # without it, plain lines rather than a table
    Column(header="95% CI", justify="right", priority=6),
    Column(header="", priority=1),  # the interval bar: first to go on a narrow terminal
    Column(header="raw", justify="right", priority=2),  # with --style-control: the plain rating
    Column(header="elo", justify="right", priority=3),
    Column(header="battles", justify="right", priority=5),
    Column(header="W·L·T·BB", justify="right", priority=4),
)


def print_ratings(console: Console, result: Standings, warnings: BoardWarnings, *, hidden_by_model: int = 0) -> None:
    """``hidden_by_model``: battles between instances of one model, which a board by model leaves out."""
    board = result.board
    sources = ", ".join(f"{count} {name}" for name, count in result.battles_by_source.items())
    title = f"Leaderboard · {board.total_battles} battles ({sources})"
    raw = result.style.raw_ratings if result.style is not None else {}
    columns = RATING_COLUMNS if raw else tuple(column for column in RATING_COLUMNS if column.header != "raw")
    if result.style is not None:
        title += " · style controlled"
    if not board.rows:
        caption = "No battles yet: vote in the arena or run a judge."
        if hidden_by_model:
            caption = (
                f"No battles between different models, but {hidden_by_model} between settings of one model "
                "(a benchmark of one model at several settings): see them with --by instance."
            )
        print_table(console, columns, [], title=title, caption=caption)
        return
    ends = [v for row in board.rows for v in (row.ci_low, row.ci_high, row.rating) if v is not None]
    lowest, highest = min(ends), max(ends)
    rows = []
    tied = warnings.all_ties  # a "1000–1000" interval would read as certainty
    for row, rank in zip(board.rows, warnings.ranks, strict=True):
        interval = f"{row.ci_low:.0f}–{row.ci_high:.0f}" if row.ci_low is not None and row.ci_high is not None else "–"
        interval = "no signal" if tied else interval
        rows.append(
            [
                str(rank),
                f"{row.model} (provisional)" if row.model in warnings.provisional else row.model,
                f"{row.rating:.0f}",
                interval,
                ""
                if tied
                else interval_bar(low=row.ci_low, high=row.ci_high, rating=row.rating, lowest=lowest, highest=highest),
                *([f"{raw[row.model]:.0f}"] if raw else []),
                f"{result.elo[row.model]:.0f}",
                str(row.battles),
                f"{row.wins}·{row.losses}·{row.ties}·{row.both_bad}",
            ]
        )
    print_table(console, columns, rows, title=title)
    for note in warnings.notes:
        console.print(f"Note: {note}", style="bold yellow", markup=False, highlight=False, soft_wrap=True)


def print_pass_rates(console: Console, rates: dict[str, PassRate]) -> None:
    """The promptfoo tests each contestant passed, over the runs the filters include (as the API's column)."""
    columns = (Column(header="model", keep=True), Column(header="tests passed", justify="right", required=True))
    ordered = sorted(rates.items(), key=lambda kv: (-kv[1].rate, kv[0]))
    rows = [[key, f"{rate.rate:.0%} ({rate.passed}/{rate.total})"] for key, rate in ordered]
    print_table(console, columns, rows, title="promptfoo tests passed")


def print_style(console: Console, result: Standings) -> None:
    """The style coefficients: > 0, the answer with more of it is favoured, whatever it says."""
    assert result.style is not None
    rows = [
        [
            coefficient.name,
            "not estimable" if coefficient.value is None else f"{coefficient.value:+.3f}",
            "–" if coefficient.ci_low is None else f"{coefficient.ci_low:+.3f} … {coefficient.ci_high:+.3f}",
        ]
        for coefficient in result.style.coefficients
    ]
    left_out = result.style.battles_without_style
    caption = "log-odds per RMS unit of the normalised difference (a-b)/(a+b+1); raw = rating without style control"
    if left_out:
        caption += f"; {left_out} battles left out (answers unknown)"
    columns = (
        Column(header="style", keep=True),
        Column(header="coefficient", justify="right", required=True),
        Column(header="95% CI", justify="right", priority=1),
    )
    print_table(console, columns, rows, title="Style coefficients", caption=caption)


def print_win_rates(console: Console, board: Leaderboard) -> None:
    """Row against column, numbered columns; the row labels carry the whole names."""
    columns = [Column(header="", keep=True)]
    columns += [Column(header=str(index + 1), justify="right", required=True) for index in range(len(board.models))]
    rows = []
    for i, model in enumerate(board.models):
        cells = []
        for j in range(len(board.models)):
            rate = board.win_rate[i][j]
            cells.append("—" if i == j else "" if math.isnan(rate) else f"{rate:.0%} ({int(board.counts[i][j])})")
        rows.append([f"{i + 1}. {model}", *cells])
    print_table(console, columns, rows, title="Win rate (row against column, ties as half)")
