"""`arena bench …`: run, resume, cancel, list and report batch benchmarks.

Registered by ``arena.cli`` as ``arena bench``. Exit codes (their values live in
``arena.cli._common``): 0 when every item and judgment succeeded, 1 when any failed or the run
was cancelled (so CI notices), 2 for bad input (an unreadable prompt file, an unknown option).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column as TableColumn
from rich.text import Text

from arena.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    console,
    errors,
    exit_on_error,
    fail,
    load_settings,
    opened_database,
    ready_database,
)
from arena.cli._tables import Column, print_table
from arena.cli.bench_promptfoo import FailUnderOption, check_fail_under, load_prompts, print_grader_notes
from arena.cli.judges import judge_baseline, warn_of_judge
from arena.errors import ArenaError

if TYPE_CHECKING:
    from arena.evaluation.bench.runner import WorkEvent

MAX_PROMPT_FILE = 200  # what bench_runs.prompt_file holds; a longer path is stored by its name

bench_app = typer.Typer(
    help="Batch benchmarks: a prompt set × models × repeats, judged, resumable.", no_args_is_help=True
)


class RateColumn(ProgressColumn):
    """Finished units per second, as Rich measures it over the last moments."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("–/s" if speed is None else f"{speed:.2f}/s", style="progress.data.speed")


def _progress_columns(width: int) -> tuple[ProgressColumn, ...]:
    """The bar's columns; under 80 columns the bar, rate and elapsed time go first, so the count
    and the ETA stay readable."""
    count = (MofNCompleteColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[failed]}"))
    if width < 80:
        name = TextColumn(
            "[bold]{task.description}", table_column=TableColumn(no_wrap=True, overflow="ellipsis", ratio=1)
        )
        return (name, *count)
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        *count[1:],
    )


class PlainProgress:
    """One plain line per finished unit, for stdout that is not a terminal (no bar can be drawn)."""

    def __init__(self, *, total: int, finished: int) -> None:
        self.total, self.done, self.started_with = total, finished, finished
        self.started = time.monotonic()

    def line(self, event: WorkEvent) -> str:
        self.done += 1
        elapsed = time.monotonic() - self.started
        new = self.done - self.started_with
        eta = f", ETA {_clock(elapsed / new * (self.total - self.done))}" if new and self.done < self.total else ""
        return f"{self.done}/{self.total} {event.kind} {event.status}: {event.label} ({_clock(elapsed)} elapsed{eta})"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def _describe(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors()
        )
    return str(exc)


async def _execute(*, run_id: str, retry_errors: bool, quiet: bool) -> tuple[str, int]:
    """Run (or resume) with a progress bar; returns the final status and the number of failures."""
    from arena.engines.factory import build_router
    from arena.evaluation.bench.control import ensure_resumable
    from arena.evaluation.bench.runner import BenchRunner

    settings = load_settings()
    database = ready_database(settings)
    router = build_router(settings)
    try:
        before = await asyncio.to_thread(ensure_resumable, database=database, run_id=run_id, retry_errors=retry_errors)
        redone = before.failed + before.judgments.get("skipped", 0) if retry_errors else 0
        finished_before = before.finished - redone
        failed = 0
        plain = PlainProgress(total=before.total, finished=finished_before)
        in_pipe = not console.is_terminal and not quiet
        with Progress(*_progress_columns(console.width), console=console, disable=quiet or in_pipe) as progress:
            bar = progress.add_task(before.name, total=before.total, completed=finished_before, failed="")

            def heard(event: WorkEvent) -> None:
                nonlocal failed
                if in_pipe:  # a log file or `| tee` sees each finished unit, not silence until the end
                    console.print(plain.line(event), highlight=False, soft_wrap=True, markup=False)
                if event.status == "error":
                    failed += 1
                    progress.console.print(
                        f"[red]failed[/red] {escape(event.label)}: {escape(event.error or '')}",
                        highlight=False,
                        soft_wrap=True,  # one line, ids whole, however narrow
                    )
                progress.update(bar, advance=1, failed=f"[red]{failed} failed[/red]" if failed else "")

            runner = BenchRunner(
                database=database, router=router, run_id=run_id, timeout_s=settings.request_timeout, listener=heard
            )
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, runner.stop)  # stop cleanly; kill -9 is what resume is for
            try:
                result = await runner.run(retry_errors=retry_errors)
            finally:
                loop.remove_signal_handler(signal.SIGTERM)
        return result.status, result.failed
    finally:
        await router.aclose()
        database.dispose()


def _resolve(reference: str) -> str:
    """The full id of the run a reference (an id, or a unique prefix of one) names."""
    from arena.evaluation.bench.control import resolve_run

    with opened_database() as database:
        return resolve_run(database=database, reference=reference)


def _write_report(run_id: str, directory: Path) -> None:
    from arena.evaluation.bench.report.data import build_report
    from arena.evaluation.bench.report.render import write_report

    with opened_database() as database:
        written = write_report(build_report(database=database, run_id=run_id, report_dir=str(directory)), directory)
    html = next(path for path in written if path.name == "report.html")
    console.print(
        f"report: {html}  (and {len(written) - 1} more files in {directory})", highlight=False, soft_wrap=True
    )


def _finish(*, run_id: str, status: str, failed: int, report: Path | None, fail_under: float | None = None) -> None:
    if report is not None:
        _write_report(run_id, report)
    if status == "done":
        check_fail_under(run_id, fail_under)
    if status == "cancelled":
        errors.print(f"run {run_id} was cancelled; `arena bench resume {run_id[:8]}` continues it", soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    if status == "interrupted":
        errors.print(f"run {run_id} was interrupted; `arena bench resume {run_id[:8]}` continues it", soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    if failed:
        errors.print(
            f"[red]{failed} item(s) or judgment(s) failed[/red] in run {run_id}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_FAILED)
    console.print(f"run {run_id} finished: every item succeeded", soft_wrap=True)


# One name for "the folder the report goes to" in run, resume and report; each command's old
# spelling (--report, --out) still works, hidden from --help, with a note.
ReportDirOption = Annotated[
    Path | None, typer.Option("--report-dir", help="Write the report (HTML, Markdown, JSON, CSV) to this folder")
]
OldReportOption = Annotated[Path | None, typer.Option("--report", hidden=True, help="Old name of --report-dir")]


def _report_folder(report_dir: Path | None, old: Path | None, *, old_name: str) -> Path | None:
    if old is None:
        return report_dir
    if report_dir is not None:
        raise typer.BadParameter(f"give --report-dir or {old_name}, not both")
    errors.print(f"note: {old_name} is now called --report-dir; the old name still works", highlight=False)
    return old


ModelOption = Annotated[
    list[str],
    typer.Option(
        "--model", "-m", help="Model id, optionally with settings: local:smollm2-135m-instruct@temperature=0.2,seed=3"
    ),
]


@bench_app.command("run")
def run_benchmark(
    prompts: Annotated[
        Path, typer.Argument(help="Prompt set: .txt (one a line), .jsonl (MT-bench too), .csv, or a promptfoo .yaml")
    ],
    model: ModelOption = None,  # type: ignore[assignment]  # a promptfoo config may name its providers
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="key=value for every model, e.g. -o num_predict=256")
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="Judge model (judges every pair, both orders), e.g. ollama:qwen2.5:7b")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Judge each model against this one (a --model value or id)")
    ] = None,
    judge_num_predict: Annotated[
        int | None, typer.Option(min=1, help="Judge's token limit per verdict (default 512); lower is faster on a CPU")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Times each prompt is asked of each model")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Generations at once per engine endpoint")] = 2,
    seed: Annotated[int | None, typer.Option(min=1, help="Run seed (random and recorded if not given)")] = None,
    name: Annotated[str | None, typer.Option(help="Run name (default: the prompt file's name)")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt for every item")] = None,
    report_dir: ReportDirOption = None,
    old_report: OldReportOption = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
    fail_under: FailUnderOption = None,
) -> None:
    """Run a prompt set (or a promptfoo config) against models, judge the answers, write a report."""
    report = _report_folder(report_dir, old_report, old_name="--report")
    model = model or []
    from arena.evaluation.bench.plan import create_run
    from arena.evaluation.bench.spec import BenchSpec, JudgeSpec, check_models, parse_model_spec, parse_options
    from arena.evaluation.judge.judges import DEFAULT_JUDGE_OPTIONS

    settings = load_settings()
    try:
        defaults = parse_options(option or [], where="-o")
        instances = [parse_model_spec(spec, defaults=defaults) for spec in model]
        prompt_set, instances, config_name = load_prompts(prompts, instances)
        if not instances:
            raise typer.BadParameter("give at least one --model (or providers in a promptfoo config)")
        judge_spec = None
        if judge is not None:
            judge_defaults = {key: str(value) for key, value in DEFAULT_JUDGE_OPTIONS.model_dump().items()}
            if judge_num_predict is not None:  # stored in the run's judge settings, so resume keeps it
                judge_defaults["num_predict"] = str(judge_num_predict)
            judge_model = parse_model_spec(judge, defaults=judge_defaults)
            chosen = judge_baseline(baseline, model, instances)
            judge_spec = JudgeSpec(instance=judge_model, mode="baseline" if chosen else "pairs", baseline=chosen)
        elif baseline is not None or judge_num_predict is not None:
            raise typer.BadParameter(f"{'--baseline' if baseline else '--judge-num-predict'} needs --judge")
        spec = BenchSpec(
            name=name or config_name,
            instances=instances,
            judge=judge_spec,
            repeats=repeats,
            concurrency=concurrency,
            seed=seed,
            system=system,
        )

        async def check() -> str | None:  # the judge's id as its verdicts are stored, if any
            from arena.engines.factory import build_router

            router = build_router(settings)
            try:
                await check_models(router=router, spec=spec, prompt_set=prompt_set)
                return router.canonical_id(spec.judge.instance.model) if spec.judge else None
            finally:
                await router.aclose()

        judge_id = asyncio.run(check())
        print_grader_notes(prompt_set, judge)  # who grades a promptfoo config's llm-rubric (promptfoo: the cloud)
        with opened_database(settings) as database:
            warn_of_judge(database, judge_id)
            # The path as typed, so the report's Reproduce command runs from the same folder.
            typed = str(prompts) if len(str(prompts)) <= MAX_PROMPT_FILE else prompts.name
            run_id = create_run(database=database, spec=spec, prompt_set=prompt_set, prompt_file=typed)
        console.print(
            f"run {run_id}: {len(prompt_set)} prompts × {len(instances)} models × {repeats} repeat(s)", soft_wrap=True
        )
        status, failed = asyncio.run(_execute(run_id=run_id, retry_errors=False, quiet=quiet))
    except ArenaError as exc:
        raise fail(exc) from None
    except ValueError as exc:  # a pydantic rule across fields (BenchSpec, JudgeSpec)
        errors.print(f"[red]error:[/red] {_describe(exc)}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    _finish(run_id=run_id, status=status, failed=failed, report=report, fail_under=fail_under)


@bench_app.command("resume")
def resume_benchmark(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it)")],
    retry_errors: Annotated[bool, typer.Option(help="Also redo the items and judgments that failed")] = False,
    report_dir: ReportDirOption = None,
    old_report: OldReportOption = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
    fail_under: FailUnderOption = None,
) -> None:
    """Finish an interrupted or cancelled run: nothing done is redone, nothing is lost."""
    report = _report_folder(report_dir, old_report, old_name="--report")
    with exit_on_error():
        run_id = _resolve(run)
        status, failed = asyncio.run(_execute(run_id=run_id, retry_errors=retry_errors, quiet=quiet))
    _finish(run_id=run_id, status=status, failed=failed, report=report, fail_under=fail_under)


@bench_app.command("cancel")
def cancel_benchmark(run: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it)")]) -> None:
    """Stop a run; the process running it stops within a second or two."""
    from arena.evaluation.bench.control import cancel_run

    with opened_database() as database, exit_on_error():
        progress = cancel_run(database=database, run_id=run)
    console.print(f"run {progress.id}: {progress.status} ({progress.finished} of {progress.total} finished)")


RUN_COLUMNS = (
    Column(header="id", keep=True),  # the whole id: resume, report and cancel take it, and so does the API
    Column(header="name", priority=5),
    Column(header="status", priority=6),
    Column(header="finished", justify="right", priority=4),
    Column(header="failed", justify="right", priority=3),
    Column(header="created", priority=2),
)


@bench_app.command("list")
def list_benchmarks(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """The latest runs, newest first."""
    from arena.evaluation.bench.control import list_progress

    with opened_database() as database:
        runs = list_progress(database=database, limit=limit)
    if as_json:
        console.print_json(json.dumps([run.to_dict() for run in runs]))
        return
    rows = [
        [
            run.id,
            run.name,
            run.status,
            f"{run.finished}/{run.total}",
            str(run.failed),
            run.created_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for run in runs
    ]
    print_table(console, RUN_COLUMNS, rows)


@bench_app.command("report")
def report_benchmark(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it)")],
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Folder for the report files (default: bench-report-<id>)")
    ] = None,
    old_out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Old name of --report-dir")] = None,
) -> None:
    """Write a run's report: report.html (charts inline), report.md, report.json, items.csv."""
    folder = _report_folder(report_dir, old_out, old_name="--out")
    with exit_on_error():
        run_id = _resolve(run)
        _write_report(run_id, folder or Path(f"bench-report-{run_id[:8]}"))
