"""LLM-as-judge: pairwise verdicts in both orders, 1–10 grades, reference-guided grades.

    pairwise    every two candidates (or each against a baseline) are shown twice, once in
                each order, as [A] and [B]. The verdicts are mapped back to the candidates;
                when they agree that is the winner, when they differ (the judge followed the
                position, not the answers) the result is a tie marked inconsistent.
    single      each candidate graded 1–10 on its own.
    reference   each candidate graded 1–10 against a reference answer.
    (A reference given with pairwise makes it reference-guided pairwise.)

The judge is any `JudgeModel` (see ``judge.judges``): a local model through the router, or an
opted-in cloud model. When any answer of the judge cannot be read as a verdict, the whole
request fails with ``EngineProtocolError`` (HTTP 502) quoting what the judge said: a verdict
is never guessed. This module knows nothing of HTTP or SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Final, Literal, Protocol, get_args

from arena.engines.base import Message
from arena.errors import EngineProtocolError, InvalidInput
from arena.evaluation.judge.parse import ReadBy, Verdict, read_score, read_verdict
from arena.evaluation.judge.prompts import PAIRWISE_SCHEMA, SCORE_SCHEMA, grading_messages, pairwise_messages

Mode = Literal["pairwise", "single", "reference"]
Winner = Literal["a", "b", "tie"]
MODES: tuple[str, ...] = get_args(Mode)
# 6 candidates give 15 pairs, i.e. 30 judge calls; beyond that, name a baseline.
MAX_PAIRS: Final = 15
_QUOTE_LIMIT: Final = 200


class JudgeModel(Protocol):
    """What judges: `name` is recorded with every verdict (never a key or a URL's secret)."""

    name: str
    cloud: bool

    async def complete(self, messages: list[Message], *, schema: dict[str, Any]) -> str:
        """The judge's whole answer to one prompt."""
        ...


@dataclass(frozen=True, kw_only=True)
class Candidate:
    key: str  # an instance id for a stored turn, the caller's key for a raw prompt
    text: str


@dataclass(frozen=True, kw_only=True)
class JudgeTask:
    mode: Mode
    prompt: str
    candidates: list[Candidate]
    system: str | None = None
    reference: str | None = None
    baseline: str | None = None  # a candidate key: judge every other candidate against it


@dataclass(frozen=True, kw_only=True)
class Reading:
    """One call to the judge: what it wrote and what was read from it."""

    raw: str
    explanation: str | None
    read_by: ReadBy
    verdict: Verdict | None = None  # pairwise, in the labels the judge saw
    score: float | None = None  # grading


@dataclass(frozen=True, kw_only=True)
class PairJudgment:
    key_a: str
    key_b: str
    ab: Reading  # key_a shown as [A]
    ba: Reading  # key_b shown as [A]
    winner: Winner  # in terms of key_a / key_b
    consistent: bool

    @property
    def winner_key(self) -> str | None:
        return {"a": self.key_a, "b": self.key_b}.get(self.winner)


@dataclass(frozen=True, kw_only=True)
class Grade:
    key: str
    reading: Reading

    @property
    def score(self) -> float:
        assert self.reading.score is not None
        return self.reading.score


@dataclass(frozen=True, kw_only=True)
class JudgeStep:
    """One call to the judge about to start, for progress: call `index` (from 1) of `total`,
    comparison `comparison` of `comparisons`, with `shown_a` (and `shown_b`) as the judge sees them."""

    index: int
    total: int
    comparison: int
    comparisons: int
    shown_a: str
    shown_b: str | None = None
    order: Literal["ab", "ba"] | None = None  # pairwise: as given, or swapped


OnStep = Callable[[JudgeStep], None]
_CallStep = Callable[..., None]  # (call within the comparison, shown_a=…, shown_b=…, order=…)


@dataclass(frozen=True, kw_only=True)
class JudgeOutcome:
    judge_model: str
    cloud: bool
    mode: Mode
    pairs: list[PairJudgment]
    grades: list[Grade]


def check_task(task: JudgeTask) -> None:
    """The rules a request schema cannot express; raises InvalidInput."""
    keys = [candidate.key for candidate in task.candidates]
    if len(set(keys)) != len(keys):
        raise InvalidInput("two answers have the same key")
    if task.mode == "reference" and not (task.reference and task.reference.strip()):
        raise InvalidInput('mode "reference" needs a reference answer')
    if task.mode == "single" and task.reference is not None:
        raise InvalidInput('a reference answer is used by mode "reference" (or "pairwise"), not "single"')
    if task.baseline is not None:
        if task.mode != "pairwise":
            raise InvalidInput("a baseline is only used in pairwise mode")
        if task.baseline not in keys:
            raise InvalidInput(f"the baseline {task.baseline!r} is not one of the answers")
    if task.mode == "pairwise":
        if len(keys) < 2:
            raise InvalidInput(f"pairwise judging needs at least two answers, got {len(keys)}")
        if len(pairs_to_judge(task)) > MAX_PAIRS:
            raise InvalidInput(
                f"{len(keys)} answers make {len(pairs_to_judge(task))} pairs (at most {MAX_PAIRS}): name a baseline"
            )
    elif not keys:
        raise InvalidInput("there is no answer to grade")


def pairs_to_judge(task: JudgeTask) -> list[tuple[Candidate, Candidate]]:
    """Each candidate against the baseline, or every two candidates, in the order given."""
    if task.baseline is None:
        return list(combinations(task.candidates, 2))
    base = next(c for c in task.candidates if c.key == task.baseline)
    return [(base, other) for other in task.candidates if other.key != task.baseline]


async def run_judge(task: JudgeTask, *, judge: JudgeModel, on_step: OnStep | None = None) -> JudgeOutcome:
    """Judge every pair (both orders) or grade every answer; all or nothing. `on_step` hears of
    each call to the judge before it starts."""
    check_task(task)
    pairs: list[PairJudgment] = []
    grades: list[Grade] = []
    # One call at a time: local judges are compute-bound, and the order of calls stays reproducible.
    if task.mode == "pairwise":
        todo = pairs_to_judge(task)
        for n, (first, second) in enumerate(todo):
            step = _stepper(on_step, comparison=n + 1, comparisons=len(todo), calls_each=2)
            pairs.append(await judge_pair(task, first=first, second=second, judge=judge, on_step=step))
    else:
        for n, candidate in enumerate(task.candidates):
            step = _stepper(on_step, comparison=n + 1, comparisons=len(task.candidates), calls_each=1)
            if step is not None:
                step(0, shown_a=candidate.key)
            grades.append(await grade_answer(task, candidate=candidate, judge=judge))
    return JudgeOutcome(judge_model=judge.name, cloud=judge.cloud, mode=task.mode, pairs=pairs, grades=grades)


def _stepper(on_step: OnStep | None, *, comparison: int, comparisons: int, calls_each: int) -> _CallStep | None:
    """`step(call, shown_a=…, shown_b=…, order=…)` for the calls of one comparison, or None."""
    if on_step is None:
        return None

    def step(call: int, **shown: Any) -> None:
        index = (comparison - 1) * calls_each + call + 1
        on_step(
            JudgeStep(
                index=index, total=comparisons * calls_each, comparison=comparison, comparisons=comparisons, **shown
            )
        )

    return step


async def judge_pair(
    task: JudgeTask, *, first: Candidate, second: Candidate, judge: JudgeModel, on_step: _CallStep | None = None
) -> PairJudgment:
    if on_step is not None:
        on_step(0, shown_a=first.key, shown_b=second.key, order="ab")
    ab = await _verdict(task, shown_a=first, shown_b=second, judge=judge)
    if on_step is not None:
        on_step(1, shown_a=second.key, shown_b=first.key, order="ba")
    ba = await _verdict(task, shown_a=second, shown_b=first, judge=judge)
    winner, consistent = combine_orders(ab.verdict, ba.verdict)  # type: ignore[arg-type]
    return PairJudgment(key_a=first.key, key_b=second.key, ab=ab, ba=ba, winner=winner, consistent=consistent)


def combine_orders(ab: Verdict, ba: Verdict) -> tuple[Winner, bool]:
    """Map both verdicts back to the candidates; disagreement is a tie, marked inconsistent."""
    first = {"A": "a", "B": "b", "tie": "tie"}[ab]
    second = {"A": "b", "B": "a", "tie": "tie"}[ba]  # in this order key_b was shown as [A]
    if first == second:
        return first, True  # type: ignore[return-value]
    return "tie", False


async def _verdict(task: JudgeTask, *, shown_a: Candidate, shown_b: Candidate, judge: JudgeModel) -> Reading:
    messages = pairwise_messages(
        prompt=task.prompt, system=task.system, first=shown_a.text, second=shown_b.text, reference=task.reference
    )
    raw = await judge.complete(messages, schema=PAIRWISE_SCHEMA)
    reading = read_verdict(raw)
    if reading is None:
        raise _no_verdict(judge, raw, what="a pairwise verdict (A, B or tie)")
    return Reading(raw=raw, explanation=reading.explanation, read_by=reading.read_by, verdict=reading.verdict)


async def grade_answer(task: JudgeTask, *, candidate: Candidate, judge: JudgeModel) -> Grade:
    reference = task.reference if task.mode == "reference" else None
    messages = grading_messages(prompt=task.prompt, system=task.system, answer=candidate.text, reference=reference)
    raw = await judge.complete(messages, schema=SCORE_SCHEMA)
    reading = read_score(raw)
    if reading is None:
        raise _no_verdict(judge, raw, what="a score from 1 to 10")
    return Grade(
        key=candidate.key,
        reading=Reading(raw=raw, explanation=reading.explanation, read_by=reading.read_by, score=reading.score),
    )


def _no_verdict(judge: JudgeModel, raw: str, *, what: str) -> EngineProtocolError:
    said = " ".join(raw.split())
    said = said if len(said) <= _QUOTE_LIMIT else said[:_QUOTE_LIMIT] + "…"
    shown = f"it said {said!r}" if said else "its answer was empty"
    return EngineProtocolError(
        f"the judge {judge.name} gave no usable verdict: {what} was expected, but {shown}. Nothing was recorded; "
        "use a stronger judge model (or raise num_predict if its answer was cut off)"
    )
