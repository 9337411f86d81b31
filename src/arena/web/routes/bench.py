"""Batch benchmarks over HTTP: start a run from an uploaded prompt set, follow it, cancel it,
resume it, fetch its report. The page at GET /bench (routes/pages.py) does all of that.

Runs started here execute in this server process, one asyncio task each; the run's rows in the
database are the truth, so a run survives the server (resume it after a restart) and the CLI
can follow, cancel or resume it too. With ARENA_BENCH_RUNNER=workers this process runs nothing:
starting or resuming a run puts it in the queue `arena bench worker` processes serve.

A run belongs to whoever started it (``web/auth/ownership.py``): another evaluator gets 404 for
it, an admin may read it; starting, cancelling, resuming and downloading a report are audited.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError

from arena.errors import Conflict, InvalidInput
from arena.evaluation.bench.control import cancel_run, ensure_resumable, get_progress, list_progress, queue_run
from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.promptfoo_config import SUFFIXES as CONFIG_SUFFIXES
from arena.evaluation.bench.promptfoo_config import parse_promptfoo_config
from arena.evaluation.bench.promptfoo_grader import grader_notes
from arena.evaluation.bench.report.data import build_report
from arena.evaluation.bench.report.html import REPORT_CSP
from arena.evaluation.bench.report.render import charts, render_html, render_items_csv, render_json, render_markdown
from arena.evaluation.bench.runner import BenchRunner
from arena.evaluation.bench.spec import BenchSpec, check_models
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.judge.trust import judge_warning
from arena.storage import audit
from arena.storage import bench as store
from arena.storage.db import Database
from arena.web.audit_events import record_event
from arena.web.auth.budget import budget_key, budget_of
from arena.web.auth.ownership import check_bench_run, reader_of
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, ModelRouter
from arena.web.observability.hooks import observe_bench
from arena.web.openapi import error_responses
from arena.web.routes import bench_compare
from arena.web.schemas.bench import ResumeCreate, RunList, RunPublic

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/bench", tags=["bench"], dependencies=[Evaluator])
router.include_router(bench_compare.router)  # GET /api/bench/compare

ERRORS = error_responses(400, 404, 409, 413, 422)
ReportFormat = Literal["json", "html", "md", "csv"]


def _runners(app: FastAPI) -> dict[str, asyncio.Task[Any]]:
    if not hasattr(app.state, "bench_runners"):
        app.state.bench_runners = {}
    return app.state.bench_runners


def _public(progress: Any, app: FastAPI) -> RunPublic:
    task = _runners(app).get(progress.id)
    return RunPublic(**progress.to_dict(), running_here=task is not None and not task.done())


def _start(app: FastAPI, *, run_id: str, budget_key: str, retry_errors: bool = False) -> None:
    """Run in the background; a failure is logged and leaves the run resumable.

    Every item and judgment waits for a unit of `budget_key`'s generation budget (the run's
    owner's), so a run never holds more than ARENA_MAX_STREAMS_PER_USER at once."""
    if app.state.settings.bench_runner == "workers":
        return  # queued by the caller (queue_run): the workers run it on their own engines
    runner = BenchRunner(
        database=app.state.database,
        router=app.state.router,
        run_id=run_id,
        timeout_s=app.state.settings.request_timeout,
        budget=budget_of(app),
        budget_key=budget_key,
        listener=lambda event: observe_bench(event.kind, event.status),  # /metrics: bench throughput
    )

    async def work() -> None:
        try:
            await runner.run(retry_errors=retry_errors)
        except Conflict as exc:
            logger.warning("benchmark run %s not started: %s", run_id, exc)
        except Exception:
            logger.exception("benchmark run %s stopped with an error; resume it to go on", run_id)

    task = asyncio.create_task(work(), name=f"bench-{run_id}")
    task.runner = runner  # type: ignore[attr-defined]
    _runners(app)[run_id] = task


async def stop_runners(app: FastAPI) -> None:
    """At shutdown, before the engines close: put what is in flight back as pending."""
    tasks = [task for task in _runners(app).values() if not task.done()]
    for task in tasks:
        task.runner.stop()  # type: ignore[attr-defined]
    await asyncio.gather(*tasks, return_exceptions=True)


def _owner_id(db: Database, run_id: str) -> int | None:
    with db.session() as session:
        return store.get_run(session, run_id=run_id).owner_id


def _parse_spec(config: str, providers: list[ModelInstance], *, promptfoo: bool = False) -> BenchSpec:
    """The form's BenchSpec; `providers` (a promptfoo config's) are its instances when it names none."""
    try:
        fields = json.loads(config) if providers or promptfoo else None
    except ValueError:
        fields = None  # refused below, as any malformed spec is
    if promptfoo and not providers and isinstance(fields, dict) and not fields.get("instances"):
        raise InvalidInput("the config names no providers and no model was chosen: add a model on the page or providers in the config")
    try:
        if isinstance(fields, dict) and not fields.get("instances"):
            fields["instances"] = [provider.model_dump(exclude_none=True) for provider in providers]
            return BenchSpec.model_validate(fields)
        return BenchSpec.model_validate_json(config)
    except ValidationError as exc:
        # Reported like a request body that failed validation (422), naming each field.
        raise RequestValidationError([{**error, "loc": ("config", *error["loc"])} for error in exc.errors()]) from None


@router.post("/runs", status_code=201, response_model=RunPublic, responses=ERRORS)
async def create_bench_run(
    request: Request,
    settings: AppSettings,
    models: ModelRouter,
    db: Db,
    principal: CurrentPrincipal,
    prompts: Annotated[UploadFile, File(description="The prompt set: .txt, .jsonl, .csv, or a promptfoo .yaml")],
    config: Annotated[str, Form(description="BenchSpec as JSON: instances, judge, repeats, concurrency, seed, name")],
) -> RunPublic:
    """Start a benchmark: the uploaded prompts × the instances × repeats, judged if a judge is named."""
    data = await prompts.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(
            status_code=413,
            detail=f"the prompt file is larger than {settings.max_upload_bytes} bytes (ARENA_MAX_UPLOAD_BYTES)",
        )
    filename = prompts.filename or "prompts.txt"
    providers: list[ModelInstance] = []
    if filename.lower().endswith(CONFIG_SUFFIXES):  # a promptfoo config: its providers unless models are given
        suite = parse_promptfoo_config(data, filename=filename)
        prompt_set, providers = suite.prompt_set, suite.instances
    else:
        prompt_set = parse_prompt_set(data, filename=filename)
    spec = _parse_spec(config, providers, promptfoo=filename.lower().endswith(CONFIG_SUFFIXES))
    if spec.concurrency > settings.max_streams_per_user:
        raise InvalidInput(
            f"concurrency {spec.concurrency} is more than the {settings.max_streams_per_user} generations one "
            "user may run at once (ARENA_MAX_STREAMS_PER_USER): a run draws on its owner's budget"
        )
    await check_models(router=models, spec=spec, prompt_set=prompt_set)
    run_id = await asyncio.to_thread(
        create_run, database=db, spec=spec, prompt_set=prompt_set, prompt_file=filename, owner_id=principal.user_id
    )
    await record_event(request, audit.BENCH_CREATE, target=run_id, items=len(prompt_set.items))
    if settings.bench_runner == "workers":
        await asyncio.to_thread(queue_run, database=db, run_id=run_id)
    _start(request.app, run_id=run_id, budget_key=principal.rate_key)
    created = _public(await asyncio.to_thread(get_progress, database=db, run_id=run_id), request.app)
    if spec.judge is not None:  # a judge that flips with the order turns the run's verdicts into ties
        warning = await asyncio.to_thread(judge_warning, db, models.canonical_id(spec.judge.instance.model))
        created = created.model_copy(update={"judge_warning": warning})
    judge = spec.judge.instance.model if spec.judge else None
    notes = grader_notes([item.checks for item in prompt_set.items], judge)
    return created.model_copy(update={"grader_warning": " ".join(notes)}) if notes else created


@router.get("/runs", response_model=RunList, responses=ERRORS)
async def list_bench_runs(
    request: Request, db: Db, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> RunList:
    """The latest runs, newest first, with their progress: the caller's own (an admin's: all)."""
    runs = await asyncio.to_thread(list_progress, database=db, limit=limit, reader=reader_of(principal))
    return RunList(runs=[_public(run, request.app) for run in runs])


@router.get("/runs/{run_id}", response_model=RunPublic, responses=ERRORS)
async def get_bench_run(run_id: str, request: Request, db: Db, principal: CurrentPrincipal) -> RunPublic:
    """One run's progress (a unique prefix of its id will do)."""
    run_id = await check_bench_run(db, principal, run_id, need="read")
    return _public(await asyncio.to_thread(get_progress, database=db, run_id=run_id), request.app)


@router.post("/runs/{run_id}/cancel", response_model=RunPublic, responses=ERRORS)
async def cancel_bench_run(run_id: str, request: Request, db: Db, principal: CurrentPrincipal) -> RunPublic:
    """Stop a run; the items in flight go back to pending, so it can be resumed later."""
    run_id = await check_bench_run(db, principal, run_id, need="own")
    progress = await asyncio.to_thread(cancel_run, database=db, run_id=run_id)
    await record_event(request, audit.BENCH_CANCEL, target=run_id)
    return _public(progress, request.app)


@router.post("/runs/{run_id}/resume", response_model=RunPublic, responses=ERRORS)
async def resume_bench_run(
    run_id: str, request: Request, db: Db, principal: CurrentPrincipal, body: ResumeCreate | None = None
) -> RunPublic:
    """Go on with an interrupted or cancelled run (in this server, or queued for the bench workers); nothing
    done is redone."""
    run_id = await check_bench_run(db, principal, run_id, need="own")
    retry = body.retry_errors if body else False
    progress = await asyncio.to_thread(ensure_resumable, database=db, run_id=run_id, retry_errors=retry)
    task = _runners(request.app).get(progress.id)
    if task is not None and not task.done():  # started here a moment ago, not claimed yet
        raise Conflict(f"benchmark run {progress.id} is running already")
    run_id = progress.id
    owner_id = await asyncio.to_thread(_owner_id, db, run_id)
    if request.app.state.settings.bench_runner == "workers":
        await asyncio.to_thread(queue_run, database=db, run_id=run_id, retry_errors=retry)
    _start(request.app, run_id=run_id, budget_key=budget_key(owner_id, principal), retry_errors=retry)
    await record_event(request, audit.BENCH_RESUME, target=run_id, retry_errors=retry)
    await asyncio.sleep(0)  # let the runner claim the run before the answer reports it
    return _public(await asyncio.to_thread(get_progress, database=db, run_id=run_id), request.app)


REPORT_MEDIA_TYPES = ("application/json", "text/html", "text/markdown", "text/csv")  # by `format`
REPORT = {200: {"description": "The report in the format asked for", "content": {m: {} for m in REPORT_MEDIA_TYPES}}}


@router.get("/runs/{run_id}/report", responses={**ERRORS, **REPORT})
async def get_bench_report(
    run_id: str,
    request: Request,
    db: Db,
    principal: CurrentPrincipal,
    format: Annotated[ReportFormat, Query(description="json, html, md or csv")] = "json",
) -> Response:
    """The run's report: ratings with intervals, win rates, speed, per-category wins, how to reproduce."""
    run_id = await check_bench_run(db, principal, run_id, need="read")
    report = await asyncio.to_thread(build_report, database=db, run_id=run_id)
    # The report holds every prompt and answer: who took a copy is worth knowing.
    await record_event(request, audit.BENCH_REPORT, target=run_id, format=format)
    stem = f"bench-{run_id[:8]}"
    if format == "html":
        headers = {
            "Content-Security-Policy": REPORT_CSP + "; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
        }
        return HTMLResponse(await asyncio.to_thread(render_html, report, charts=charts(report)), headers=headers)
    if format == "md":
        return PlainTextResponse(
            render_markdown(report),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.md"'},
        )
    if format == "csv":
        return PlainTextResponse(
            render_items_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}-items.csv"'},
        )
    return Response(render_json(report), media_type="application/json")
