"""The NDJSON lines of POST /api/judge/stream, as /openapi.json documents them.

First a `start` line (the judge and how many calls it will answer), then `progress` lines as it
works (which comparison, which order, tokens written so far in that call), and last either
`done`, carrying the stored run exactly as POST /api/judge answers it, or `error`, with the
status POST /api/judge would have answered. Nothing is stored unless a `done` line comes: a
client that cancels (closes the connection) stops the judge and leaves no verdict behind.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from arena.web.schemas.judge import JudgeRunPublic


class JudgeStartLine(BaseModel):
    type: Literal["start"]
    judge_model: str
    cloud: bool
    sent_to: str | None = Field(description="The host a cloud judge sends the question and answers to")
    mode: str
    calls: int = Field(description="How many answers the judge will write (two per pairwise comparison)")
    comparisons: int = Field(description="Pairs to compare, or answers to grade")


class JudgeProgressLine(BaseModel):
    """A call to the judge started (`tokens` 0), or the judge wrote more of it."""

    type: Literal["progress"]
    call: int = Field(description="Which call of `calls`, from 1")
    calls: int
    comparison: int = Field(description="Which pair (or answer) of `comparisons`, from 1")
    comparisons: int
    shown_as_a: str = Field(description="The answer shown first (a blind label while the conversation is blind)")
    shown_as_b: str | None
    order: Literal["ab", "ba"] | None = Field(description="Pairwise: the pair as given, or swapped; null for a grade")
    tokens: int = Field(description="Pieces of text the judge has written in this call so far")


class JudgeDoneLine(BaseModel):
    type: Literal["done"]
    run: JudgeRunPublic


class JudgeErrorLine(BaseModel):
    """The run failed; nothing was stored. `status` is what POST /api/judge would have answered."""

    type: Literal["error"]
    status: int
    error: str


JudgeStreamLine = Annotated[
    JudgeStartLine | JudgeProgressLine | JudgeDoneLine | JudgeErrorLine, Field(discriminator="type")
]
