"""Votes on a conversation's answers, and the reveal of a blind conversation's models."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from arena.evaluation.blind import cast_vote, reveal
from arena.web.deps import Authorized, Db
from arena.web.schemas import ErrorBody, RevealedInstance, RevealOut, VoteCreate, VoteOut

router = APIRouter(prefix="/api/conversations", tags=["votes and reveal"], dependencies=[Authorized])

ERRORS = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.post("/{conversation_id}/votes", status_code=201, response_model=VoteOut, responses=ERRORS)
async def create_vote(conversation_id: str, body: VoteCreate, db: Db) -> VoteOut:
    """Thumb one answer up or down, or judge A against B; closed once the models are revealed."""
    vote = await asyncio.to_thread(
        cast_vote,
        db,
        conversation_id=conversation_id,
        turn_id=body.turn_id,
        kind=body.kind,
        value=body.value,
        key=getattr(body, "key", None),
    )
    return VoteOut(id=vote.id, kind=vote.kind, value=vote.value)


@router.post("/{conversation_id}/reveal", response_model=RevealOut, responses=ERRORS)
async def reveal_models(conversation_id: str, db: Db) -> RevealOut:
    """Show which model and settings stand behind each label, with the votes each received."""
    result = await asyncio.to_thread(reveal, db, conversation_id=conversation_id)
    return RevealOut(
        revealed_at=result.revealed_at,
        mapping=[
            RevealedInstance(label=m.label, up=m.up, down=m.down, pairwise_wins=m.pairwise_wins, **m.settings)
            for m in result.mapping
        ],
    )
