"""Votes on a conversation's answers, and the reveal of a blind conversation's models."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from arena.evaluation.conversation.votes import StaleAnswer, cast_vote, reveal
from arena.storage import audit
from arena.web.audit_events import record_event
from arena.web.auth.ownership import check_conversation
from arena.web.deps import CurrentPrincipal, Db, Evaluator
from arena.web.errors import error_response
from arena.web.openapi import error_responses
from arena.web.schemas.votes import RevealedInstancePublic, RevealPublic, VoteCreate, VotePublic

router = APIRouter(prefix="/api/conversations", tags=["votes and reveal"], dependencies=[Evaluator])

ERRORS = error_responses(400, 404, 409, 413, 422)


# A 409 about a replaced answer says so in a field, so a client can reload instead of closing votes.
STALE_ANSWER = "stale_answer"


@router.post("/{conversation_id}/votes", status_code=201, response_model=VotePublic, responses=ERRORS)
async def create_vote(
    conversation_id: str, body: VoteCreate, request: Request, db: Db, principal: CurrentPrincipal
) -> VotePublic | JSONResponse:
    """Thumb one answer up or down, or judge A against B; closed once the models are revealed.
    Naming the answers seen (response_id, response_ids) refuses a vote about a replaced one (409)."""
    await check_conversation(db, principal, conversation_id, need="read")
    try:
        vote = await asyncio.to_thread(
            cast_vote,
            db,
            conversation_id=conversation_id,
            turn_id=body.turn_id,
            kind=body.kind,
            value=body.value,
            key=getattr(body, "key", None),
            voter_id=principal.user_id,
            response_id=getattr(body, "response_id", None),
            response_ids=getattr(body, "response_ids", None),
            category=body.category,
        )
    except StaleAnswer as exc:
        return error_response(409, str(exc), reason=STALE_ANSWER)
    await record_event(
        request, audit.VOTE, target=conversation_id, turn_id=body.turn_id, kind=vote.kind, value=vote.value
    )
    return VotePublic(id=vote.id, kind=vote.kind, value=vote.value)


@router.post("/{conversation_id}/reveal", response_model=RevealPublic, responses=ERRORS)
async def reveal_models(conversation_id: str, request: Request, db: Db, principal: CurrentPrincipal) -> RevealPublic:
    """Show which model and settings stand behind each label, with the votes each received."""
    await check_conversation(db, principal, conversation_id, need="own")
    result = await asyncio.to_thread(reveal, db, conversation_id=conversation_id)
    await record_event(request, audit.REVEAL, target=conversation_id)
    return RevealPublic(
        revealed_at=result.revealed_at,
        mapping=[
            RevealedInstancePublic(label=m.label, up=m.up, down=m.down, pairwise_wins=m.pairwise_wins, **m.settings)
            for m in result.mapping
        ],
    )
