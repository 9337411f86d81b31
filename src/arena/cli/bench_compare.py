"""`arena bench compare`: two contestants prompt by prompt (sign test, paired bootstrap, effect
size, prompts still needed), of two runs or within one. Exit 2 for bad input, as every command."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from arena.cli._common import console, exit_on_error, opened_database


def bench_compare(
    run_a: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it)")],
    run_b: Annotated[str | None, typer.Argument(help="A second run; left out, compare instances within RUN_A")] = None,
    instances: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--instances",
            help="A and B: instance ids, labels, models or -m specs (local:model@temperature=0.2); B of "
            "RUN_B when two runs are given; left out there, each run's instance that the other lacks",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Bootstrap seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON")] = False,
) -> None:
    """Compare two runs (a quantization against another, say), or two instances of one run."""
    from arena.evaluation.bench.compare_runs import compare_runs, describe
    from arena.evaluation.bench.control import resolve_run

    with opened_database() as database, exit_on_error():
        first = resolve_run(database=database, reference=run_a)
        second = resolve_run(database=database, reference=run_b) if run_b else None
        a, b = instances if instances else (None, None)
        result = compare_runs(database=database, run_a=first, run_b=second, instance_a=a, instance_b=b, seed=seed)
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
        return
    for line in describe(result):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
