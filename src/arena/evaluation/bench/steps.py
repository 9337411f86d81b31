"""One unit of benchmark work, without the scheduling: answer one item, judge one pair.

``bench.runner`` decides when each runs and writes the rows; this module generates (through
``conversation.compare``, so timing and error mapping are the arena's usual ones) and judges
(through ``judge.task.judge_pair``, both orders, anonymized), and says what the row should hold.
"""

from __future__ import annotations

import platform
import socket
import sys
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from arena import __version__
from arena.engines.base import Message, ModelInfo, SamplingOptions
from arena.engines.router import Router
from arena.errors import ArenaError, InvalidInput
from arena.evaluation.bench.plan import repeat_seed
from arena.evaluation.bench.promptfoo_asserts import grade_answer
from arena.evaluation.bench.promptfoo_graded import DEFAULT_GRADER_MODEL, grade_all, needs_grader
from arena.evaluation.conversation.compare import FinishEvent, Target, compare
from arena.evaluation.judge.judges import DEFAULT_JUDGE_OPTIONS, local_judge
from arena.evaluation.judge.task import Candidate, JudgeModel, JudgeTask, PairJudgment, judge_pair
from arena.storage import judgments as judgment_store
from arena.storage.bench_models import BenchItem, BenchJudgment
from arena.storage.models import utcnow

METRIC_FIELDS: Final = ("prompt_tokens", "tokens", "ttft_s", "duration_s", "tokens_per_sec", "turn_metrics")


@dataclass(frozen=True, kw_only=True)
class ItemResult:
    answers: list[str]
    error: str | None
    metrics: dict[str, Any]
    grade: dict[str, Any] | None = None  # a promptfoo test's result on the answer

    @property
    def status(self) -> str:
        return "done" if self.error is None else "error"

    def row_values(self) -> dict[str, Any]:
        passed = None if self.grade is None else bool(self.grade["pass"])
        return {"answers": self.answers, "error": self.error, "grade": self.grade, "test_passed": passed, **self.metrics}


@dataclass(frozen=True, kw_only=True)
class PairResult:
    judge_model: str
    options: SamplingOptions
    task: JudgeTask
    verdict: PairJudgment | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "done" if self.error is None else "error"


async def describe_environment(router: Router) -> dict[str, Any]:
    """What a reader needs to reproduce a run: versions of the arena, Python and every engine."""
    inventory = await router.inventory(fresh=True)
    return {
        "started_at": utcnow().isoformat(),
        "arena": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "engines": [
            {"engine": h.engine, "endpoint": h.endpoint, "reachable": h.reachable, "version": h.version}
            for h in inventory.health
        ],
        # Sizes as the engines report them now, for the report's quality-against-memory chart.
        "models": {m.id: _size_record(m) for m in inventory.models if any(_size_record(m).values())},
    }


def _size_record(model: ModelInfo) -> dict[str, int | None]:
    return {"size_bytes": model.size, "resident_bytes": getattr(model, "resident_bytes", None)}


def origin(router: Router, model_id: str, *, worker: str) -> dict[str, str | None]:
    """Where a row's result comes from: this machine, and the engine kind + endpoint id the router
    picks first for the model (an Ollama URL without credentials or query; an OpenAI endpoint's name)."""
    return {"host": socket.gethostname(), "engine": engine_label(router, model_id), "worker": worker}


def engine_label(router: Router, model_id: str) -> str | None:
    try:
        engine, _name = router.engine_for_management(model_id)
    except (ArenaError, InvalidInput):
        return None
    endpoint = getattr(engine, "name", None) if engine.kind == "openai" else engine.endpoint
    parts = urlsplit(str(endpoint))
    if parts.scheme and parts.hostname:  # a URL: never its user, password or query
        port = f":{parts.port}" if parts.port else ""
        endpoint = f"{parts.scheme}://{parts.hostname}{port}{parts.path.rstrip('/')}"
    return f"{engine.kind}:{endpoint}"[:300]


def item_options(item: BenchItem, instance: dict[str, Any]) -> SamplingOptions:
    """The instance's settings with the item's own seed (derived from the run seed when 0)."""
    settings = {name: instance[name] for name in SamplingOptions.model_fields}
    return SamplingOptions.model_validate({**settings, "seed": item.seed})


def opening_messages(item: BenchItem, system: str | None) -> list[Message]:
    """What the model sees before the item's first turn: the run's system prompt and a chat-format
    prompt's own system message (both, in that order), then its fixed few-shot messages."""
    checks = item.checks or {}
    prompts = [text for text in (system, checks.get("system")) if text and text.strip()]
    opening = [Message(role="system", content="\n\n".join(prompts))] if prompts else []
    return opening + [Message(role=m["role"], content=m["content"]) for m in checks.get("history", [])]


async def answer_item(
    *,
    router: Router,
    item: BenchItem,
    options: SamplingOptions,
    system: str | None,
    timeout_s: float,
    grader: JudgeModel | None = None,
) -> ItemResult:
    """Every turn in order, each seeing the instance's own earlier answers; stops at the first failure.
    `grader` grades the test's model-graded assertions (``item_grader``), one call each."""
    messages = opening_messages(item, system)
    answers: list[str] = []
    turn_metrics: list[dict[str, Any]] = []
    error = None
    for number, turn in enumerate(item.turns, start=1):
        messages.append(Message(role="user", content=turn))
        target = Target(instance_id=item.instance_id, model=item.model, options=options, messages=list(messages))
        event = await _one_answer(router, target, timeout_s)
        if event.metrics is not None:
            turn_metrics.append(event.metrics.to_dict())
        if event.status != "ok":
            where = f"turn {number}: " if len(item.turns) > 1 else ""
            error = f"{where}{event.error or event.status}"
            break
        answers.append(event.text)
        messages.append(Message(role="assistant", content=event.text))
    metrics = combine_metrics(turn_metrics)
    grade = None
    if item.checks and error is None:  # a failed generation is an error, not a failed test
        latency_ms = metrics["duration_s"] * 1000 if metrics["duration_s"] is not None else None
        graded = None
        if grader is not None and needs_grader(item.checks):
            graded = await grade_all(item.checks, output=answers[-1], task=item.turns[-1], grader=grader)
        grade = grade_answer(item.checks, output=answers[-1], latency_ms=latency_ms, graded=graded)
    return ItemResult(answers=answers, error=error, metrics=metrics, grade=grade)


async def _one_answer(router: Router, target: Target, timeout_s: float) -> FinishEvent:
    events = compare(router=router, targets=[target], timeout_s=timeout_s)
    async with aclosing(events):
        async for event in events:
            if isinstance(event, FinishEvent):
                return event
    raise AssertionError("compare ended without a finish event")  # pragma: no cover


def combine_metrics(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the turns; time to first token is the first turn's; tokens/s weighs turns by tokens."""
    if not turns:
        return dict.fromkeys(METRIC_FIELDS)
    timed = [t for t in turns if t.get("tokens_per_sec")]
    generation_s = sum(t["tokens"] / t["tokens_per_sec"] for t in timed)
    rate = sum(t["tokens"] for t in timed) / generation_s if generation_s else None
    prompt_tokens = [t["prompt_tokens"] for t in turns if t.get("prompt_tokens") is not None]
    return {
        "prompt_tokens": sum(prompt_tokens) if prompt_tokens else None,
        "tokens": sum(t["tokens"] for t in turns),
        "ttft_s": turns[0].get("ttft_s"),
        "duration_s": round(sum(t["duration_s"] for t in turns), 4),
        "tokens_per_sec": round(rate, 2) if rate else None,
        "turn_metrics": turns,
    }


def item_grader(
    *, router: Router, item: BenchItem, judge: dict[str, Any] | None, run_seed: int, timeout_s: float
) -> JudgeModel | None:
    """Who grades the item's llm-rubric / closedqa assertions: the run's judge (a local model the
    router serves), else the embedded default at the judge settings; None when it has none."""
    if not needs_grader(item.checks):
        return None
    grader = (item.checks or {}).get("grader")
    if judge is not None:  # a --judge wins over the config's grader
        model, options = judge["model"], judge_options(judge, run_seed=run_seed, repeat=item.repeat)
    elif grader:  # the promptfoo config's own (options.provider), at the settings promptfoo sends it
        model = grader["model"]
        options = SamplingOptions.model_validate({name: grader[name] for name in SamplingOptions.model_fields})
    else:
        model, options = DEFAULT_GRADER_MODEL, DEFAULT_JUDGE_OPTIONS
    return local_judge(router=router, model_id=model, options=options, timeout_s=timeout_s)


def judge_options(judge: dict[str, Any], *, run_seed: int, repeat: int) -> SamplingOptions:
    """The judge's settings; a judge seed of 0 is derived like the items' seeds, so reruns agree."""
    options = SamplingOptions.model_validate({name: judge[name] for name in SamplingOptions.model_fields})
    if options.seed == 0:
        options = options.model_copy(update={"seed": repeat_seed(instance_seed=0, run_seed=run_seed, repeat=repeat)})
    return options


def pair_task(*, first: BenchItem, second: BenchItem, system: str | None) -> JudgeTask:
    """The question (every user turn) and both transcripts, keyed by instance id; the judge sees only [A]/[B]."""
    return JudgeTask(
        mode="pairwise",
        prompt=_transcript(first.turns, label="User, turn"),
        candidates=[
            Candidate(key=first.instance_id, text=_transcript(first.answers or [], label="Turn")),
            Candidate(key=second.instance_id, text=_transcript(second.answers or [], label="Turn")),
        ],
        system=system,
        reference=_transcript(first.reference, label="Turn") if first.reference else None,
    )


async def judge_items(
    *, router: Router, model_id: str, options: SamplingOptions, task: JudgeTask, timeout_s: float
) -> PairResult:
    """Both orders through the judge; an unreadable verdict or a failing judge fails this pair only."""
    judge = local_judge(router=router, model_id=model_id, options=options, timeout_s=timeout_s)
    first, second = task.candidates
    base = {"judge_model": judge.name, "options": options, "task": task}
    try:
        verdict = await judge_pair(task, first=first, second=second, judge=judge)
    except ArenaError as exc:
        return PairResult(**base, error=str(exc))
    except Exception as exc:  # a judge engine's bug fails this pair, not the run
        return PairResult(**base, error=f"unexpected judge failure: {type(exc).__name__}: {exc}")
    detail = {
        "judge_model": judge.name,
        "consistent": verdict.consistent,
        "verdict_ab": verdict.ab.verdict,
        "verdict_ba": verdict.ba.verdict,
        "explanation_ab": verdict.ab.explanation,
        "explanation_ba": verdict.ba.explanation,
    }
    return PairResult(**base, verdict=verdict, detail=detail)


def record_verdict(session: Session, *, run_id: str, category: str | None, result: PairResult) -> int:
    """The verdict also goes to the judge's own table (in the caller's commit), tagged with the run id."""
    verdict = result.verdict
    assert verdict is not None
    stored = judgment_store.add_judgment(
        session,
        run_id=run_id,
        judge_model=result.judge_model,
        mode="pairwise",
        category=category,
        key_a=verdict.key_a,
        key_b=verdict.key_b,
        reference=result.task.reference,
        options=result.options.model_dump(),
        raw_ab=verdict.ab.raw,
        raw_ba=verdict.ba.raw,
        verdict_ab=verdict.ab.verdict,
        verdict_ba=verdict.ba.verdict,
        parsed={
            "ab": verdict.ab.explanation,
            "ba": verdict.ba.explanation,
            "read_by": [verdict.ab.read_by, verdict.ba.read_by],
        },
        winner=verdict.winner,
        consistent=verdict.consistent,
    )
    return stored.id


def _transcript(texts: list[str], *, label: str) -> str:
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"[{label} {number}]\n{text}" for number, text in enumerate(texts, start=1))


def item_label(item: BenchItem) -> str:
    return f"{item.prompt_id} × {item.instance_id} #{item.repeat + 1}"


def pair_label(judgment: BenchJudgment) -> str:
    return f"{judgment.prompt_id} #{judgment.repeat + 1}: {judgment.instance_a} vs {judgment.instance_b}"


def judgment_row(session: Session, *, run_id: str, category: str | None, result: PairResult) -> dict[str, Any]:
    """A judged pair's row values; its verdict goes to the judge's table first, in the same commit,
    so a row that cannot be finished (taken over) rolls the verdict back with it."""
    detail = None
    if result.verdict is not None:
        stored = record_verdict(session, run_id=run_id, category=category, result=result)
        detail = {**result.detail, "judgment_id": stored}
    outcome = result.verdict.winner if result.verdict else None
    return {"status": result.status, "outcome": outcome, "detail": detail, "error": result.error}
