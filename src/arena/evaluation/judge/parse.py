"""Read a verdict or a grade out of whatever a judge model wrote, without inventing one.

Judges are asked for JSON (and most engines enforce the schema), but small or cloud models
still wrap it in prose or code fences, cut it short at the token limit, or answer MT-bench
style ("[[A]]", "Rating: [[7]]"). The readers below try, in order: a JSON object anywhere
in the text, a `"verdict"`/`"score"` field of an object that was cut short, then the
MT-bench markers. Anything ambiguous (two different markers) or out of range reads as
nothing: the caller then reports that the judge gave no usable verdict. So does JSON nested
deeper, or with longer numbers, than `arena.bounded_json` allows: no verdict needs it, and
`json` would crash on it (RecursionError) rather than say no.

Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from arena.bounded_json import JsonTooComplex, check_json_bounds

Verdict = Literal["A", "B", "tie"]
ReadBy = Literal["json", "partial_json", "mt_bench"]

MIN_SCORE = 1
MAX_SCORE = 10

_VERDICT_WORDS: dict[str, Verdict] = {
    "a": "A",
    "[a]": "A",
    "[[a]]": "A",
    "answer a": "A",
    "assistant a": "A",
    "b": "B",
    "[b]": "B",
    "[[b]]": "B",
    "answer b": "B",
    "assistant b": "B",
    "tie": "tie",
    "c": "tie",  # MT-bench spells a tie [[C]]
    "[[c]]": "tie",
    "draw": "tie",
    "equal": "tie",
}
_VERDICT_FIELDS = ("verdict", "winner", "better", "choice")
_SCORE_FIELDS = ("score", "rating", "grade")
_EXPLANATION_FIELDS = ("explanation", "reasoning", "rationale", "reason")

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_PARTIAL_VERDICT = re.compile(r'"(?:verdict|winner)"\s*:\s*"\s*(\[{0,2}(?:A|B|C|tie)\]{0,2})\s*"', re.I)
_PARTIAL_SCORE = re.compile(r'"(?:score|rating)"\s*:\s*"?\s*(\d+(?:\.\d+)?)\s*(?:"|,|\}|$)', re.I)
_MT_BENCH_VERDICT = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.I)
_MT_BENCH_SCORE = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


@dataclass(frozen=True, kw_only=True)
class VerdictReading:
    verdict: Verdict
    explanation: str | None
    read_by: ReadBy


@dataclass(frozen=True, kw_only=True)
class ScoreReading:
    score: float
    explanation: str | None
    read_by: ReadBy


def read_verdict(text: str) -> VerdictReading | None:
    """The judge's pairwise verdict in the labels it was shown ([A] first), or None."""
    for obj in json_objects(text):
        value = _field(obj, _VERDICT_FIELDS)
        verdict = normalize_verdict(value) if isinstance(value, str) else None
        if verdict is not None:
            return VerdictReading(verdict=verdict, explanation=_explanation(obj), read_by="json")
    partial = {normalize_verdict(match) for match in _PARTIAL_VERDICT.findall(text)}
    if len(partial) == 1 and None not in partial:
        return VerdictReading(verdict=partial.pop(), explanation=None, read_by="partial_json")  # type: ignore[arg-type]
    markers = {normalize_verdict(match) for match in _MT_BENCH_VERDICT.findall(text)}
    if len(markers) == 1 and None not in markers:
        return VerdictReading(verdict=markers.pop(), explanation=_prose(text), read_by="mt_bench")  # type: ignore[arg-type]
    return None


def read_score(text: str) -> ScoreReading | None:
    """The judge's 1–10 grade, or None when it gave none (or one out of range)."""
    for obj in json_objects(text):
        score = _as_score(_field(obj, _SCORE_FIELDS))
        if score is not None:
            return ScoreReading(score=score, explanation=_explanation(obj), read_by="json")
    partial = {_as_score(match) for match in _PARTIAL_SCORE.findall(text)}
    if len(partial) == 1 and None not in partial:
        return ScoreReading(score=partial.pop(), explanation=None, read_by="partial_json")  # type: ignore[arg-type]
    markers = {_as_score(match) for match in _MT_BENCH_SCORE.findall(text)}
    if len(markers) == 1 and None not in markers:
        return ScoreReading(score=markers.pop(), explanation=_prose(text), read_by="mt_bench")  # type: ignore[arg-type]
    return None


def normalize_verdict(value: str) -> Verdict | None:
    """Read A, [A], [[A]], "Assistant A", tie, or C (MT-bench's tie) as A, B or tie."""
    return _VERDICT_WORDS.get(" ".join(value.strip().lower().split()))


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in the text: the whole text, inside code fences, or embedded in prose."""
    found: list[dict[str, Any]] = []
    candidates = [text, *_FENCE.findall(text)]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        stripped = candidate.strip()
        try:
            check_json_bounds(stripped, what="the judge's output")
        except JsonTooComplex:
            continue  # garbage: the partial and MT-bench readers may still find a verdict in it
        try:
            whole = json.loads(stripped)
        except (ValueError, RecursionError):  # the bounds scan can misjudge prose with a stray quote
            whole = None
        if isinstance(whole, dict):
            found.append(whole)
            continue
        position = stripped.find("{")
        while position != -1:
            try:
                obj, end = decoder.raw_decode(stripped, position)
            except RecursionError:
                break  # nested past Python's limit: each later "{" would recurse as deep again
            except ValueError:
                position = stripped.find("{", position + 1)
                continue
            if isinstance(obj, dict):
                found.append(obj)
            position = stripped.find("{", end)
    return found


def _field(obj: dict[str, Any], names: tuple[str, ...]) -> Any:
    lowered = {str(key).lower(): value for key, value in obj.items()}
    return next((lowered[name] for name in names if name in lowered), None)


def _explanation(obj: dict[str, Any]) -> str | None:
    value = _field(obj, _EXPLANATION_FIELDS)
    return value.strip() or None if isinstance(value, str) else None


def _as_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or value != value:  # NaN is not a grade
        return None
    return float(value) if MIN_SCORE <= value <= MAX_SCORE else None


def _prose(text: str) -> str | None:
    """The text around an MT-bench marker serves as its explanation."""
    cleaned = _MT_BENCH_SCORE.sub("", _MT_BENCH_VERDICT.sub("", text)).strip()
    return cleaned or None
