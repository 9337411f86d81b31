"""Stored conversations: list, read, rename, delete."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from arena.storage import repository
from arena.storage.models import Conversation, Turn
from arena.web.deps import Authorized, Db
from arena.web.schemas import ErrorBody

router = APIRouter(prefix="/api/conversations", tags=["conversations"], dependencies=[Authorized])

ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


class InstanceOut(BaseModel):
    instance_id: str
    model: str
    label: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    num_predict: int
    seed: int


class ResponseOut(BaseModel):
    id: int
    instance_id: str
    status: str
    text: str
    error: str | None
    prompt_tokens: int | None
    tokens: int | None
    ttft_s: float | None
    duration_s: float | None
    tokens_per_sec: float | None


class TurnOut(BaseModel):
    id: int
    index: int
    system: str | None
    user_text: str
    responses: list[ResponseOut]


class ConversationSummary(BaseModel):
    id: str
    title: str
    blind: bool
    created_at: datetime
    updated_at: datetime
    revealed_at: datetime | None


class ConversationDetail(ConversationSummary):
    instances: list[InstanceOut]
    turns: list[TurnOut]


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class RenameRequest(BaseModel):
    title: str = Field(min_length=1, max_length=200)


def _summary(c: Conversation) -> ConversationSummary:
    return ConversationSummary(
        id=c.id, title=c.title, blind=c.blind, created_at=c.created_at, updated_at=c.updated_at, revealed_at=c.revealed_at
    )


def _turn(t: Turn) -> TurnOut:
    return TurnOut(
        id=t.id,
        index=t.index,
        system=t.system,
        user_text=t.user_text,
        responses=[
            ResponseOut(
                id=r.id,
                instance_id=r.instance_id,
                status=r.status,
                text=r.text,
                error=r.error,
                prompt_tokens=r.prompt_tokens,
                tokens=r.completion_tokens,
                ttft_s=r.ttft_s,
                duration_s=r.duration_s,
                tokens_per_sec=r.tokens_per_sec,
            )
            for r in t.latest_responses().values()
        ],
    )


def _detail(db: Db, conversation_id: str) -> ConversationDetail:
    with db.session() as session:
        c = repository.get_conversation(session, conversation_id=conversation_id)
        turns = repository.list_turns(session, conversation_id=conversation_id)
        instances = [
            InstanceOut(
                instance_id=ci.instance_id,
                model=ci.instance.model,
                label=ci.blind_label,
                temperature=ci.instance.temperature,
                top_p=ci.instance.top_p,
                top_k=ci.instance.top_k,
                repeat_penalty=ci.instance.repeat_penalty,
                num_predict=ci.instance.num_predict,
                seed=ci.instance.seed,
            )
            for ci in sorted(c.instances, key=lambda ci: ci.position)
        ]
        return ConversationDetail(**_summary(c).model_dump(), instances=instances, turns=[_turn(t) for t in turns])


@router.get("", response_model=ConversationList, responses=ERRORS)
async def list_conversations(
    db: Db,
    search: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> ConversationList:
    """Conversations, most recently active first; `search` matches titles."""

    def read() -> ConversationList:
        with db.session() as session:
            found = repository.list_conversations(session, search=search, limit=limit, offset=offset)
            return ConversationList(conversations=[_summary(c) for c in found])

    return await asyncio.to_thread(read)


@router.get("/{conversation_id}", response_model=ConversationDetail, responses=ERRORS)
async def get_conversation(conversation_id: str, db: Db) -> ConversationDetail:
    """One conversation with its instances and every turn's latest answers."""
    return await asyncio.to_thread(_detail, db, conversation_id)


@router.patch("/{conversation_id}", response_model=ConversationSummary, responses=ERRORS)
async def rename_conversation(conversation_id: str, body: RenameRequest, db: Db) -> ConversationSummary:
    """Rename a conversation."""

    def write() -> ConversationSummary:
        with db.session() as session:
            return _summary(repository.rename_conversation(session, conversation_id=conversation_id, title=body.title))

    return await asyncio.to_thread(write)


@router.delete("/{conversation_id}", status_code=204, responses=ERRORS)
async def delete_conversation(conversation_id: str, db: Db) -> None:
    """Delete a conversation with its turns, answers and votes."""

    def write() -> None:
        with db.session() as session:
            repository.delete_conversation(session, conversation_id=conversation_id)

    await asyncio.to_thread(write)
