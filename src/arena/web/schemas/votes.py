"""Votes on a conversation's answers (thumbs, or A against B) and the reveal of a blind one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.storage.models import CATEGORY_MAX_LENGTH
from arena.web.schemas.common import KEY, MAX_ID, InstanceSettings

CATEGORY_DESCRIPTION = (
    "The category of the prompt (e.g. coding, writing), as the voter names it: the vote then counts on that "
    "category's leaderboard (GET /api/leaderboard?category=…). Omitted or blank: no category."
)

SEEN = (
    "The answer the voter saw (its response id): when a regenerate has replaced it since, the vote is "
    'refused with 409 and "reason": "stale_answer".'
)


class ThumbVoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["thumb"]
    key: str = KEY
    value: Literal["up", "down"]
    response_id: int | None = Field(
        None, ge=1, le=MAX_ID, description=SEEN + " Omitted: the vote goes on the latest answer."
    )
    category: str | None = Field(None, max_length=CATEGORY_MAX_LENGTH, description=CATEGORY_DESCRIPTION)


class PairwiseVoteCreate(BaseModel):
    """A against B: the first two instances in display order."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["pairwise"]
    value: Literal["A", "B", "tie", "both_bad"]
    response_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, min_length=2, max_length=2,
        description="A's answer, then B's. " + SEEN + " Omitted: the vote is about the latest answers.",
    )  # fmt: skip
    category: str | None = Field(None, max_length=CATEGORY_MAX_LENGTH, description=CATEGORY_DESCRIPTION)


VoteCreate = Annotated[ThumbVoteCreate | PairwiseVoteCreate, Field(discriminator="kind")]


class VotePublic(BaseModel):
    id: int
    kind: str
    value: str


# The label an instance wore while blind: the reveal's first field.
class _Labelled(BaseModel):
    label: str


# InstanceSettings first, so its fields follow the label.
class RevealedInstancePublic(InstanceSettings, _Labelled):
    up: int
    down: int
    pairwise_wins: int


class RevealPublic(BaseModel):
    revealed_at: datetime
    mapping: list[RevealedInstancePublic]
