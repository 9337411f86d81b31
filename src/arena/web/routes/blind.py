"""Votes on a conversation's answers, and the reveal of a blind conversation's models."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from arena.evaluation.conversation.votes import cast_vote, reveal
from arena.storage import audit
from arena.web.auth.ownership import check_conversation
from arena.web.audit import record_event
from arena.web.auth.principal import CurrentPrincipal, Evaluator
from arena.web.deps import Db
from arena.web.schemas import RevealedInstance, RevealOut, VoteCreate, VoteOut, error_responses

router = APIRouter(prefix="/api/conversations", tags=["votes and reveal"], dependencies=[Evaluator])

ERRORS = error_responses(400, 404, 409, 413, 422)


@router.post("/{conversation_id}/votes", status_code=201, response_model=VoteOut, responses=ERRORS)
async def create_vote(
    conversation_id: str, body: VoteCreate, request: Request, db: Db, principal: CurrentPrincipal
) -> VoteOut:
    """Thumb one answer up or down, or judge A against B; closed once the models are revealed."""
    await check_conversation(db, principal, conversation_id, need="read")
    vote = await asyncio.to_thread(
        cast_vote,
        db,
        conversation_id=conversation_id,
        turn_id=body.turn_id,
        kind=body.kind,
        value=body.value,
        key=getattr(body, "key", None),
        voter_id=principal.user_id,
    )
    await record_event(
        request, audit.VOTE, target=conversation_id, turn_id=body.turn_id, kind=vote.kind, value=vote.value
    )
    return VoteOut(id=vote.id, kind=vote.kind, value=vote.value)


@router.post("/{conversation_id}/reveal", response_model=RevealOut, responses=ERRORS)
async def reveal_models(conversation_id: str, request: Request, db: Db, principal: CurrentPrincipal) -> RevealOut:
    """Show which model and settings stand behind each label, with the votes each received."""
    await check_conversation(db, principal, conversation_id, need="own")
    result = await asyncio.to_thread(reveal, db, conversation_id=conversation_id)
    await record_event(request, audit.REVEAL, target=conversation_id)
    return RevealOut(
        revealed_at=result.revealed_at,
        mapping=[
            RevealedInstance(label=m.label, up=m.up, down=m.down, pairwise_wins=m.pairwise_wins, **m.settings)
            for m in result.mapping
        ],
    )
