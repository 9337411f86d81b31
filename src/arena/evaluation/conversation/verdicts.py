"""Judge verdicts about a conversation's turns, as its exports show them, and back on import.

The rows come from ``evaluation/judge/export.py``; answers are named as the export names them:
by label always, and by key (the instance id, or the label again while the conversation is
masked), so a blind export names no model through a verdict either. An import restores them
by label under the new conversation (which is marked imported: off the leaderboard unless asked).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from arena.errors import InvalidInput
from arena.storage import judgments as judgment_store
from arena.storage.models import CATEGORY_MAX_LENGTH, MODEL_ID_MAX_LENGTH

EARLIER_ANSWER: Final = "about an earlier answer: regenerated since"
MODE_NAMES = {"pairwise": "pairwise", "single": "grade", "reference": "grade against a reference"}


@dataclass(frozen=True, kw_only=True)
class VerdictOrder:
    shown_as_a: str  # a label
    shown_as_b: str | None
    verdict: str | None
    score: float | None
    explanation: str | None
    read_by: str | None  # how the verdict was read from the judge's answer (json, partial_json, mt_bench)
    raw: str


@dataclass(frozen=True, kw_only=True)
class VerdictView:
    turn_id: int
    run_id: str
    judge_model: str
    cloud: bool
    mode: str
    category: str | None
    created_at: datetime
    key_a: str
    key_b: str | None
    label_a: str
    label_b: str | None
    winner: str | None  # "a", "b" or "tie" (pairwise)
    consistent: bool | None
    score: float | None
    # Which of each instance's answers to the turn were judged (0 = its first, as the export lists
    # them; None: unknown), and whether a regenerate has replaced one since.
    answer_a: int | None = None
    answer_b: int | None = None
    about_earlier_answer: bool = False
    orders: list[VerdictOrder] = field(default_factory=list)

    @property
    def winner_label(self) -> str | None:
        return {"a": self.label_a, "b": self.label_b}.get(self.winner or "")

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "judge_model": self.judge_model,
            "cloud": self.cloud,
            "mode": self.mode,
            "category": self.category,
            "created_at": self.created_at.isoformat(),
            "key_a": self.key_a,
            "key_b": self.key_b,
            "label_a": self.label_a,
            "label_b": self.label_b,
            "winner": self.winner,
            "winner_label": self.winner_label,
            "consistent": self.consistent,
            "score": self.score,
            "answer_a": self.answer_a,
            "answer_b": self.answer_b,
            "about_earlier_answer": self.about_earlier_answer,
            "orders": [vars(order).copy() for order in self.orders],
        }

    def outcome(self, *, about: str | None = None) -> str:
        """What the judge decided, in words; `about` (a label) says it from that answer's side."""
        if self.mode != "pairwise":
            return f"{self.label_a}: {self.score:g}/10" if about is None else f"{self.score:g}/10"
        pair = f"{self.label_a} vs {self.label_b}"
        flipped = " (inconsistent: it flipped with the order, so a tie)" if self.consistent is False else ""
        if about is not None:
            other = self.label_b if about == self.label_a else self.label_a
            result = "tie" if self.winner_label is None else ("won" if self.winner_label == about else "lost")
            return f"vs {other}: {result}{flipped}"
        return f"{pair}: " + (f"{self.winner_label} wins" if self.winner_label else "tie") + flipped

    def byline(self, *, code: bool = False) -> str:
        """Who judged, how and when."""
        judge = f"`{self.judge_model}`" if code else self.judge_model
        cloud = " (a cloud judge)" if self.cloud else ""
        earlier = f" ({EARLIER_ANSWER})" if self.about_earlier_answer else ""
        return f"{judge}{cloud}, {MODE_NAMES.get(self.mode, self.mode)}, {self.created_at:%Y-%m-%d %H:%M} UTC{earlier}"


TurnVerdicts = Mapping[int, Sequence[VerdictView]]  # turn id → its verdicts, oldest first


def csv_cell(verdicts: Sequence[VerdictView], *, label: str) -> str:
    """Every verdict about one answer, one per line."""
    about = [v for v in verdicts if label in (v.label_a, v.label_b)]
    return "\n".join(f"{v.outcome(about=label)} — {v.byline()}" for v in about)


def markdown_lines(verdicts: Sequence[VerdictView], *, cell: Callable[[Any], str]) -> list[str]:
    """A turn's verdicts as a Markdown list under their own heading (`cell` escapes text)."""
    if not verdicts:
        return []
    lines = ["", "### Judge verdicts", ""]
    for v in verdicts:
        lines.append(f"- **{cell(v.outcome())}** — {v.byline(code=True)}")
        explained = dict.fromkeys(o.explanation for o in v.orders if o.explanation)
        lines += [f"  - {cell(text)}" for text in explained]
    return lines


# --- import: the verdicts of a JSON export, back under the new conversation's turns ----------

MAX_VERDICTS_PER_TURN: Final = 100


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImportedOrder(_Lenient):
    verdict: Literal["A", "B", "tie"] | None = None
    score: float | None = Field(None, ge=1, le=10)
    explanation: str | None = Field(None, max_length=100_000)
    read_by: Literal["json", "partial_json", "mt_bench"] | None = None
    raw: str = Field("", max_length=1_000_000)


class ImportedVerdict(_Lenient):
    run_id: str = Field(min_length=1, max_length=64)  # groups the verdicts of one run; a new id is given
    judge_model: str = Field(min_length=1, max_length=MODEL_ID_MAX_LENGTH)
    cloud: bool = False
    mode: Literal["pairwise", "single", "reference"]
    category: str | None = Field(None, max_length=CATEGORY_MAX_LENGTH)
    created_at: AwareDatetime | None = None
    label_a: str
    label_b: str | None = None
    winner: Literal["a", "b", "tie"] | None = None
    consistent: bool | None = None
    score: float | None = Field(None, ge=1, le=10)
    answer_a: int | None = Field(None, ge=0)
    answer_b: int | None = Field(None, ge=0)
    orders: list[ImportedOrder] = Field(min_length=1, max_length=2)

    @property
    def labels(self) -> list[str]:
        return [self.label_a] + ([self.label_b] if self.label_b is not None else [])


def import_verdicts(
    session: Session,
    *,
    conversation_id: str,
    turn_id: int,
    verdicts: Sequence[ImportedVerdict],
    ids: Mapping[str, str],
    run_ids: dict[str, str],
    where: str,
    answers: Mapping[str, Sequence[int]] | None = None,
) -> None:
    """Store a turn's exported verdicts about the new conversation's instances (`ids`: label →
    instance id); runs keep their grouping under new ids (`run_ids`: old → new, shared by turns).
    `answers` (label → the new response ids of its answers, oldest first) ties each verdict to
    the answers it judged, so one about an earlier answer stays marked so."""

    def judged(label: str | None, index: int | None) -> int | None:
        chain = (answers or {}).get(label or "", ())
        return chain[index] if index is not None and index < len(chain) else None

    for n, verdict in enumerate(verdicts):
        first, *second = verdict.orders
        pairwise = verdict.mode == "pairwise"
        try:
            row = judgment_store.add_judgment(
                session,
                run_id=run_ids.setdefault(verdict.run_id, uuid.uuid4().hex),
                judge_model=verdict.judge_model,
                cloud=verdict.cloud,
                mode=verdict.mode,
                category=verdict.category,
                conversation_id=conversation_id,
                turn_id=turn_id,
                key_a=ids[verdict.label_a],
                key_b=ids[verdict.label_b] if verdict.label_b is not None else None,
                raw_ab=first.raw,
                raw_ba=second[0].raw if second else None,
                verdict_ab=first.verdict if pairwise else None,
                verdict_ba=second[0].verdict if second and pairwise else None,
                parsed={
                    k: {"explanation": o.explanation, "read_by": o.read_by}
                    for k, o in zip(("ab", "ba"), verdict.orders, strict=False)
                },
                response_a_id=judged(verdict.label_a, verdict.answer_a),
                response_b_id=judged(verdict.label_b, verdict.answer_b),
                score=None if pairwise else verdict.score,
                winner=verdict.winner if pairwise else None,
                consistent=verdict.consistent if pairwise else None,
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.judgments[{n}]: {exc}") from None
        if verdict.created_at is not None:
            row.created_at = verdict.created_at
