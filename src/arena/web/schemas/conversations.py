"""/api/conversations: create, list, read (with turns, answers and votes), rename."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.conversation.view import ConversationView, ResponseView, TurnView
from arena.web.markdown import render_markdown
from arena.web.schemas.attachments import AttachmentMetaPublic
from arena.web.schemas.common import InstanceSettings
from arena.web.schemas.speed import SpeedConditionsPublic


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200, description="Default: the first message")
    blind: bool = Field(False, description="Hide which model is which until the reveal")
    model_instances: list[ModelInstance] = Field(max_length=64)


class ConversationUpdate(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class ConversationPublic(BaseModel):
    id: str
    title: str
    blind: bool
    created_at: datetime
    updated_at: datetime
    revealed_at: datetime | None
    imported: bool = Field(False, description="Made from an export file: its votes stay off the leaderboard by default")


class ConversationList(BaseModel):
    conversations: list[ConversationPublic]


class HiddenInstancePublic(BaseModel):
    """An instance of a blind conversation before the reveal: its label is all a client sees."""

    key: str = Field(description="The label while blind, else the instance id")
    label: str


# InstanceSettings first, so its fields follow key and label.
class InstancePublic(InstanceSettings, HiddenInstancePublic):
    pass


class VoteCountsPublic(BaseModel):
    up: int
    down: int


class ResponsePublic(SpeedConditionsPublic):
    """One answer; in a blind conversation before the reveal, named by its label alone."""

    id: int
    key: str
    label: str
    status: str
    text: str
    html: str | None = Field(description="The answer rendered from Markdown; null while it streams")
    error: str | None
    prompt_tokens: int | None
    tokens: int | None
    ttft_s: float | None
    duration_s: float | None
    tokens_per_sec: float | None
    generation_round: int = Field(
        0, description="Answers of one round were generated together (0: with the turn; a regenerate has its own)"
    )
    votes: VoteCountsPublic

    @classmethod
    def from_view(cls, r: ResponseView) -> ResponsePublic:
        fields: dict[str, Any] = {
            "id": r.id,
            "key": r.key,
            "label": r.label,
            "status": r.status,
            "text": r.text,
            "html": None if r.status == "streaming" else render_markdown(r.text),
            "error": r.error,
            "prompt_tokens": r.prompt_tokens,
            "tokens": r.tokens,
            "ttft_s": r.ttft_s,
            "duration_s": r.duration_s,
            "tokens_per_sec": r.tokens_per_sec,
            "cached_prompt_tokens": r.cached_prompt_tokens,
            "prompt_s": r.prompt_s,
            "finish_reason": r.finish_reason,
            "wait_s": r.wait_s,
            "load_s": r.load_s,
            "engine_timed": r.engine_timed,
            "contended": r.contended,
            "generation_round": r.generation_round,
            "votes": VoteCountsPublic(up=r.up, down=r.down),
        }
        if r.instance_id is None:
            return cls(**fields)
        return OpenResponsePublic(**fields, instance_id=r.instance_id)


class OpenResponsePublic(ResponsePublic):
    """An answer whose instance may be named (an open or revealed conversation)."""

    instance_id: str


class TurnPublic(BaseModel):
    id: int
    index: int
    system: str | None
    user_text: str
    attachments: list[AttachmentMetaPublic]
    responses: list[OpenResponsePublic | ResponsePublic] = Field(
        description="The latest answer of each instance, in display order"
    )

    @classmethod
    def from_view(cls, t: TurnView) -> TurnPublic:
        return cls(
            id=t.id,
            index=t.index,
            system=t.system,
            user_text=t.user_text,
            attachments=[AttachmentMetaPublic(**meta) for meta in t.attachments],
            responses=[ResponsePublic.from_view(r) for r in t.latest()],
        )


class PairwiseVotePublic(BaseModel):
    turn_id: int
    value: str


class ConversationDetailPublic(ConversationPublic):
    instances: list[InstancePublic | HiddenInstancePublic]
    turns: list[TurnPublic]
    pairwise_votes: list[PairwiseVotePublic]

    @classmethod
    def from_view(cls, view: ConversationView) -> ConversationDetailPublic:
        return cls(
            id=view.id,
            title=view.title,
            blind=view.blind,
            revealed_at=view.revealed_at,
            imported=view.imported,
            created_at=view.created_at,
            updated_at=view.updated_at,
            instances=[
                InstancePublic(key=i.key, label=i.label, **i.settings)
                if i.settings
                else HiddenInstancePublic(key=i.key, label=i.label)
                for i in view.instances
            ],
            turns=[TurnPublic.from_view(t) for t in view.turns],
            pairwise_votes=[PairwiseVotePublic(turn_id=p.turn_id, value=p.value) for p in view.pairwise_votes],
        )
