"""Votes on a conversation's answers (thumbs, or A against B) and the reveal of a blind one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.web.schemas.common import KEY, MAX_ID, InstanceSettings


class ThumbVoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["thumb"]
    key: str = KEY
    value: Literal["up", "down"]


class PairwiseVoteCreate(BaseModel):
    """A against B: the first two instances in display order."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["pairwise"]
    value: Literal["A", "B", "tie", "both_bad"]


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
