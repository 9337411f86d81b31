"""What a judge model is shown, and the JSON shape its answer must take.

The wording follows the MT-bench judge prompts (Zheng et al., 2023, "Judging LLM-as-a-Judge"):
an impartial-judge system prompt, the question, then each answer between start and end
markers. Candidates appear only as [A] and [B], never by model name. The answer is asked for
as JSON and, as a fallback for engines that ignore the schema, in MT-bench's own "[[A]]" /
"[[7]]" notation, which ``judge.parse`` also reads.

The verdict comes *before* the explanation in the schema. MT-bench lets the judge reason
first, but a schema-bound small local model then often spends its whole token budget on the
explanation and is cut off before it decides; verdict first, a cut-off explanation still
leaves a verdict that can be read.
"""

from __future__ import annotations

from typing import Any, Final

from arena.engines.base import Message
from arena.evaluation.judge.parse import MAX_SCORE, MIN_SCORE

PAIRWISE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["A", "B", "tie"]},
        "explanation": {"type": "string"},
    },
    "required": ["verdict", "explanation"],
    "additionalProperties": False,
}

SCORE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "enum": list(range(MIN_SCORE, MAX_SCORE + 1))},
        "explanation": {"type": "string"},
    },
    "required": ["score", "explanation"],
    "additionalProperties": False,
}

_IMPARTIAL = "Please act as an impartial judge"
_FAIRNESS = (
    "Avoid any position bias: the order in which the answers are presented must not influence your "
    "decision. Do not let the length of the answers influence you, and do not favour any name. "
    "Be as objective as possible."
)

PAIRWISE_SYSTEM: Final = (
    f"{_IMPARTIAL} and evaluate the quality of the answers that two AI assistants, [A] and [B], gave to "
    "the user question below. Choose the assistant that follows the user's instructions and answers the "
    "question better, considering helpfulness, relevance, accuracy, depth, creativity and level of detail. "
    f"{_FAIRNESS} "
    'Reply with a JSON object: {"verdict": "A", "explanation": "..."} where verdict is "A" if [A] is '
    'better, "B" if [B] is better, or "tie", and the explanation says briefly why. If you cannot write JSON, '
    'write "[[A]]", "[[B]]" or "[[C]]" for a tie.'
)

PAIRWISE_REFERENCE_SYSTEM: Final = (
    f"{_IMPARTIAL} and evaluate the quality of the answers that two AI assistants, [A] and [B], gave to "
    "the user question below. You are given a reference answer: judge above all which answer is correct "
    "and helpful. Compare both answers with the reference answer and look for mistakes. "
    f"{_FAIRNESS} "
    'Reply with a JSON object: {"verdict": "A", "explanation": "..."} where verdict is "A" if [A] is '
    'better, "B" if [B] is better, or "tie", and the explanation names the mistakes you found. If you cannot '
    'write JSON, write "[[A]]", "[[B]]" or "[[C]]" for a tie.'
)

SINGLE_SYSTEM: Final = (
    f"{_IMPARTIAL} and evaluate the quality of the answer an AI assistant gave to the user question below. "
    "Consider helpfulness, relevance, accuracy, depth, creativity and level of detail, and rate the answer "
    f"on a scale of {MIN_SCORE} to {MAX_SCORE}. Be as objective as possible. "
    'Reply with a JSON object: {"score": 7, "explanation": "..."} where the explanation says briefly why. '
    'If you cannot write JSON, give the rating in double brackets, for example "Rating: [[7]]".'
)

REFERENCE_SYSTEM: Final = (
    f"{_IMPARTIAL} and evaluate the quality of the answer an AI assistant gave to the user question below. "
    "Consider correctness and helpfulness above all. You are given a reference answer: compare the "
    "assistant's answer with it, look for mistakes, and rate the answer on a scale of "
    f"{MIN_SCORE} to {MAX_SCORE}. Be as objective as possible. "
    'Reply with a JSON object: {"score": 7, "explanation": "..."} where the explanation names the mistakes '
    'you found. If you cannot write JSON, give the rating in double brackets, for example "Rating: [[7]]".'
)


def _question(*, prompt: str, system: str | None) -> str:
    parts = []
    if system and system.strip():
        parts.append(f"[System Prompt the Assistants Were Given]\n{system}")
    parts.append(f"[User Question]\n{prompt}")
    return "\n\n".join(parts)


def _block(title: str, text: str) -> str:
    return f"[The Start of {title}]\n{text}\n[The End of {title}]"


def pairwise_messages(
    *, prompt: str, system: str | None, first: str, second: str, reference: str | None
) -> list[Message]:
    """`first` is shown as [A], `second` as [B]; the caller swaps them for the second order."""
    parts = [_question(prompt=prompt, system=system)]
    if reference is not None:
        parts.append(_block("Reference Answer", reference))
    parts += [_block("Assistant [A]'s Answer", first), _block("Assistant [B]'s Answer", second)]
    return [
        Message(role="system", content=PAIRWISE_REFERENCE_SYSTEM if reference is not None else PAIRWISE_SYSTEM),
        Message(role="user", content="\n\n".join(parts)),
    ]


def grading_messages(*, prompt: str, system: str | None, answer: str, reference: str | None) -> list[Message]:
    """One answer graded 1–10, against the reference answer when there is one."""
    parts = [_question(prompt=prompt, system=system)]
    if reference is not None:
        parts.append(_block("Reference Answer", reference))
    parts.append(_block("Assistant's Answer", answer))
    return [
        Message(role="system", content=REFERENCE_SYSTEM if reference is not None else SINGLE_SYSTEM),
        Message(role="user", content="\n\n".join(parts)),
    ]
