"""`arena bench run promptfooconfig.yaml` and `--fail-under`: the promptfoo side of `arena bench`.

A config file becomes the run's prompt set and, unless `-m` replaces them, its providers become
the instances; after the run, `--fail-under RATE` turns a pass rate below RATE into exit code 100,
promptfoo's own code for failed tests, so CI can tell it from a run that could not start (1, 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arena.cli._common import EXIT_FAILED, console, errors, opened_database

if TYPE_CHECKING:
    from arena.evaluation.bench.prompt_sets import PromptSet
    from arena.evaluation.conversation.instances import ModelInstance

CONFIG_SUFFIXES = (".yaml", ".yml")
EXIT_TESTS_FAILED = 100  # promptfoo's PROMPTFOO_FAILED_TEST_EXIT_CODE default

FailUnderOption = Annotated[
    float | None,
    typer.Option(
        "--fail-under", min=0.0, max=1.0, help="Exit 100 (as promptfoo) when fewer than this share (0–1) of promptfoo tests pass"
    ),
]


def is_promptfoo_config(path: Path) -> bool:
    return path.suffix.lower() in CONFIG_SUFFIXES


def load_prompts(
    path: Path, instances: list[ModelInstance]
) -> tuple[PromptSet, list[ModelInstance], str | None]:
    """The prompt set, the instances (`-m` wins over a config's providers) and a default run name."""
    if not is_promptfoo_config(path):
        from arena.evaluation.bench.prompt_sets import load_prompt_set

        return load_prompt_set(path), instances, None
    from arena.evaluation.bench.promptfoo_config import load_promptfoo_config

    suite = load_promptfoo_config(path, process_env=os.environ)  # promptfoo reads OPENAI_* from it too
    return suite.prompt_set, instances or suite.instances, suite.name


def print_grader_notes(prompt_set: PromptSet, judge: str | None) -> None:
    """Warn when promptfoo would send the config's model-graded assertions to its cloud grader,
    and say when --judge replaces the config's own grader."""
    from arena.evaluation.bench.promptfoo_grader import grader_notes

    for note in grader_notes([item.checks for item in prompt_set.items], judge):
        errors.print(f"[yellow]{note}[/yellow]", highlight=False, soft_wrap=True)


def check_fail_under(run_id: str, rate: float | None) -> None:
    """Print the run's pass rate; exit 100 when it is below `rate`, 1 when the run has no tests to pass."""
    from arena.evaluation.bench.report.pass_rates import pass_rates, rate_text
    from arena.storage import bench as store

    with opened_database() as database, database.session() as session:
        run = store.get_run(session, run_id=run_id)
        rates = pass_rates(store.list_items(session, run_id=run_id), [i["instance_id"] for i in run.instances])
    if rates is None:
        if rate is not None:
            errors.print("--fail-under: this run has no promptfoo tests to pass", highlight=False)
            raise typer.Exit(EXIT_FAILED)
        return
    console.print(f"promptfoo tests passed: {rate_text(rates['overall'])}", highlight=False)
    achieved = rates["overall"]["rate"] or 0.0
    if rate is not None and achieved < rate:
        errors.print(f"[red]pass rate {achieved:.2%} is below --fail-under {rate:.2%}[/red]", highlight=False)
        raise typer.Exit(EXIT_TESTS_FAILED)
