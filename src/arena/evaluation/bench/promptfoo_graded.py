"""promptfoo's model-graded assertions (``llm-rubric``, ``model-graded-closedqa``) through the arena's judge.

    result = await grade_with_model(assertion, output="…", task="the prompt", grader=judge)
    # (passed, score, reason), fed to ``promptfoo_asserts.grade_answer(..., graded={index: result})``

The prompts are promptfoo 0.121's (src/prompts: DEFAULT_GRADING_PROMPT, OPENAI_CLOSED_QA_PROMPT),
and so is the reading: a rubric's answer is its first JSON object, ``pass`` (default true) and
``score`` (default the pass as 0/1) with the assertion's ``threshold``; closedqa passes when the
answer ends in "Y". The grader is a ``JudgeModel`` (the run's judge, else the embedded default):
one call per assertion, asked for JSON. An answer that cannot be read fails the assertion, and a
grader error fails it too: a verdict is never invented, and neither is inverted by ``not-``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Final

from arena.engines.base import Chunk, GenerationRequest, Message, SamplingOptions
from arena.errors import ArenaError
from arena.evaluation.bench.promptfoo_asserts import GRADED_TYPES, extract_json_objects
from arena.evaluation.judge.judges import StreamingJudge
from arena.evaluation.judge.task import JudgeModel

MODEL_GRADED: Final = GRADED_TYPES
UNREADABLE: Final = "the grader's answer could not be read"
DEFAULT_GRADER_MODEL: Final = "local:smollm2-135m-instruct"  # the embedded model, as the bench's default judge

RUBRIC_SYSTEM: Final = """You are grading output according to a user-specified rubric. If the statement in the rubric is true, then the output passes the test. You respond with a JSON object with this structure: {reason: string, pass: boolean, score: number}

Examples:

<Output>Hello world</Output>
<Rubric>Content contains a greeting</Rubric>
{"reason": "the content contains the word 'Hello'", "pass": true, "score": 1.0}

<Output>Avast ye swabs, repel the invaders!</Output>
<Rubric>Does not speak like a pirate</Rubric>
{"reason": "'avast ye' is a common pirate term", "pass": false, "score": 0.0}"""

CLOSEDQA_SYSTEM: Final = """You are assessing a submitted answer on a given task based on a criterion. Here is the data:
[BEGIN DATA]
***
[Task]: {task}
***
[Submission]: {completion}
***
[Criterion]: {criteria}
***
[END DATA]
Does the submission meet the criterion? First, write out in a step by step manner your reasoning about the criterion to be sure that your conclusion is correct. Avoid simply stating the correct answers at the outset. Then print only the single character "Y" or "N" (without quotes or punctuation) on its own line corresponding to the correct answer. At the end, repeat just the letter again by itself on a new line.

Reasoning:"""

# Asked as structured output (every engine supports it; a small local model keeps to it far better).
RUBRIC_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "pass": {"type": "boolean"}, "score": {"type": "number"}},
    "required": ["reason", "pass", "score"],
}
CLOSEDQA_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "answer": {"type": "string", "enum": ["Y", "N"]}},
    "required": ["reasoning", "answer"],
}

Graded = tuple[bool, float, str]  # (passed, score, reason), the `not-` form already applied


def needs_grader(checks: dict[str, Any] | None) -> bool:
    return bool(checks) and any(a["base"] in MODEL_GRADED for a in checks.get("assert", []))


async def grade_all(checks: dict[str, Any], *, output: str, task: str, grader: JudgeModel) -> dict[int, Graded]:
    """Every model-graded assertion of a test, one grader call each, in order."""
    return {
        index: await grade_with_model(assertion, output=output, task=task, grader=grader)
        for index, assertion in enumerate(checks.get("assert", []))
        if assertion["base"] in MODEL_GRADED
    }


async def grade_with_model(assertion: dict[str, Any], *, output: str, task: str, grader: JudgeModel) -> Graded:
    base, value = assertion["base"], str(assertion["value"])
    grader, cut_off = _watched(grader)
    try:
        if base == "llm-rubric":
            user = f"<Output>\n{output}\n</Output>\n<Rubric>\n{value}\n</Rubric>"
            messages = [Message(role="system", content=RUBRIC_SYSTEM), Message(role="user", content=user)]
            raw = await grader.complete(messages, schema=RUBRIC_SCHEMA)
            result = read_rubric(raw, threshold=assertion["threshold"])
        else:
            system = CLOSEDQA_SYSTEM.format(task=task, completion=output, criteria=value)
            raw = await grader.complete([Message(role="system", content=system)], schema=CLOSEDQA_SCHEMA)
            result = read_closedqa(raw)
    except ArenaError as exc:  # the grader failed (timeout, unreachable, budget): no verdict
        return False, 0.0, f"the grader {grader.name} failed: {exc}"
    if result is None:
        limit = getattr(grader, "options", SamplingOptions()).num_predict
        why = (
            f"; it was cut off at its token limit ({limit} tokens): raise it with --judge-num-predict, or max_tokens "
            "(num_predict for ollama:) in the grader provider's config"
            if cut_off else ""
        )  # fmt: skip
        return False, 0.0, f"{UNREADABLE} ({grader.name} said {_quote(raw)}{why})"
    passed, score, reason = result
    if assertion["inverse"]:  # promptfoo's not-: the verdict flips, the score is its complement
        passed, score = not passed, 1.0 - score
        reason = "Assertion passed" if passed else f"Expected the grader to fail this: {reason}"
    return passed, score, reason


def _watched(grader: JudgeModel) -> tuple[JudgeModel, list[bool]]:
    """The grader, noting (in the list) whether its answer stopped at its token limit."""
    cut_off: list[bool] = []
    if not isinstance(grader, StreamingJudge):
        return grader, cut_off
    inner = grader.stream

    async def stream(request: GenerationRequest) -> AsyncIterator[Chunk]:
        async with aclosing(inner(request)) as chunks:
            async for chunk in chunks:
                if chunk.finish_reason == "length":
                    cut_off.append(True)
                yield chunk

    return dataclasses.replace(grader, stream=stream), cut_off


def read_rubric(raw: str, *, threshold: float | None) -> Graded | None:
    """promptfoo's runJsonGradingPrompt: the first JSON object; pass defaults to true, score to the pass."""
    objects = extract_json_objects(raw)
    if not objects or not isinstance(objects[0], dict):
        return None
    parsed = objects[0]
    passed = parsed.get("pass", True)
    if not isinstance(passed, bool):
        passed = str(passed).strip().lower() in ("true", "yes", "pass", "y")
    score = _number(parsed.get("score"), default=float(passed))
    if threshold is not None:
        passed = passed and score >= threshold
    reason = parsed.get("reason") or ("Grading passed" if passed else f"Score {score:g} below threshold {threshold}")
    return passed, score, str(reason)


def read_closedqa(raw: str) -> Graded | None:
    """Y or N: the structured answer's, else (promptfoo's own reading) the letter the text ends with."""
    objects = extract_json_objects(raw)
    parsed = objects[0] if objects and isinstance(objects[0], dict) else {}
    letter = str(parsed.get("answer", "")).strip().upper()
    said = str(parsed.get("reasoning", "")).strip() or raw.strip()
    if letter not in ("Y", "N"):
        letter = raw.rstrip()[-1:]
        if letter not in ("Y", "N"):
            return None
    if letter == "Y":
        return True, 1.0, f"The submission meets the criterion:\n{said}"
    return False, 0.0, f"The submission does not meet the criterion:\n{said}"


def _number(value: Any, *, default: float) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number and abs(number) != float("inf") else default


def _quote(raw: str, limit: int = 200) -> str:
    said = " ".join(raw.split())
    return json.dumps(said if len(said) <= limit else said[:limit] + "…") if said else "nothing"
