"""`arena judges`: each judge model's position consistency, position bias, ties and agreement with
human votes, as GET /api/judges gives them; a judge that flips with the order is flagged with advice.

Registered by ``arena.cli``; settings, the database and exit codes come from ``arena.cli._common``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from arena.cli._common import errors, exit_on_error, opened_database
from arena.cli._tables import Column, print_table
from arena.evaluation.judge.stats import MIN_PAIRS, JudgeStats
from arena.evaluation.judge.trust import judge_warning, stored_judge_stats
from arena.storage.db import Database

if TYPE_CHECKING:
    from arena.evaluation.conversation.instances import ModelInstance

COLUMNS = (
    Column(header="judge", keep=True),
    Column(header="pairs", justify="right", required=True),
    Column(header="consistent", justify="right", required=True),
    Column(header="flag", required=True),  # "unreliable": inconsistent on most pairs
    Column(header="first", justify="right", priority=5),
    Column(header="always first", justify="right", priority=3),
    Column(header="ties", justify="right", priority=4),
    Column(header="humans", justify="right", priority=2),
    Column(header="agree", justify="right", priority=2),
    Column(header="κ", justify="right", priority=1),
    Column(header="agree w/o ties", justify="right", priority=1),
    Column(header="κ w/o ties", justify="right", priority=0),
)


def judges(
    judge_model: Annotated[str | None, typer.Option(help="Only this judge model")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """How far each judge can be trusted: consistency in both orders, position bias, ties, agreement with humans."""
    with opened_database() as database, exit_on_error():
        found = stored_judge_stats(database, judge_model=judge_model)
    console = Console()
    if as_json:
        console.print_json(json.dumps({"judges": [asdict(stats) for stats in found], "min_pairs": MIN_PAIRS}))
        return
    print_table(
        console,
        COLUMNS,
        [_row(stats) for stats in found],
        title="Judges · verdicts asked in both orders",
        caption=None
        if found
        else "No pairwise verdicts yet: judge a turn in the arena, or run a benchmark with --judge.",
    )
    for stats in found:
        if stats.advice:
            console.print(
                f"Warning: {stats.advice}", style="bold yellow", markup=False, highlight=False, soft_wrap=True
            )


def warn_of_judge(database: Database, judge_id: str | None) -> None:
    """Before a benchmark starts: its judge flipped with the order on most of its stored pairs."""
    warning = judge_warning(database, judge_id) if judge_id else None
    if warning:
        errors.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


def judge_baseline(baseline: str | None, specs: list[str], instances: list[ModelInstance]) -> str | None:
    """`arena bench run --baseline` (what the judge compares each instance with): as written in a
    --model, or an instance / model id."""
    if baseline is None:
        return None
    if baseline in specs:
        return instances[specs.index(baseline)].instance_id
    return baseline


def _row(stats: JudgeStats) -> list[str]:
    humans = stats.humans
    return [
        stats.judge_model,
        str(stats.pairs),
        _percent(stats.consistency),
        "unreliable" if stats.unreliable else "",
        _percent(stats.first_position),
        _percent(stats.always_first),
        _percent(stats.tie_rate),
        str(humans.compared),
        _percent(humans.agreement),
        _kappa(humans.kappa),
        _percent(humans.agreement_without_ties),
        _kappa(humans.kappa_without_ties),
    ]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _kappa(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
