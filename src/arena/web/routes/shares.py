"""The owner of a conversation shares it with other accounts, or stops sharing it.

Sharing tells its owner whether a name is an account: they must know who can read what they
share (a typo must not pass for a share). That is accepted for a team tool: only an evaluator
can ask, about a conversation they own, and every refused name is audited, so probing for names
shows in the audit log. Unsharing answers an unknown name as it answers a name it was never
shared with.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from arena.errors import InvalidInput, NotFound
from arena.storage import accounts as store
from arena.storage import audit
from arena.web.audit_events import record_event
from arena.web.auth.ownership import check_conversation
from arena.web.auth.principal import Principal
from arena.web.deps import CurrentPrincipal, Db, Evaluator, Viewer
from arena.web.openapi import error_responses
from arena.web.schemas.accounts import ShareCreate, ShareList

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

ERRORS = error_responses(400, 404, 413, 422)


@router.get("/{conversation_id}/shares", response_model=ShareList, responses=ERRORS, dependencies=[Viewer])
async def list_shares(conversation_id: str, db: Db, principal: CurrentPrincipal) -> ShareList:
    """Who else may read this conversation."""
    await check_conversation(db, principal, conversation_id, need="read")

    def read() -> list[str]:
        with db.session() as session:
            return store.list_shares(session, conversation_id=conversation_id)

    return ShareList(usernames=await asyncio.to_thread(read))


@router.post("/{conversation_id}/shares", response_model=ShareList, responses=ERRORS, dependencies=[Evaluator])
async def share_conversation(
    conversation_id: str, body: ShareCreate, request: Request, db: Db, principal: CurrentPrincipal
) -> ShareList:
    """Let another account read it (and, if they are an evaluator, vote on, judge and export it)."""
    await _check_owner(db, principal, conversation_id)

    def write() -> list[str]:
        with db.session() as session:
            store.share(session, conversation_id=conversation_id, username=body.username)
        with db.session() as session:
            return store.list_shares(session, conversation_id=conversation_id)

    try:
        usernames = await asyncio.to_thread(write)
    except NotFound:
        await record_event(
            request, audit.CONVERSATION_SHARE, target=conversation_id, username=body.username, refused="no such account"
        )
        raise
    await record_event(request, audit.CONVERSATION_SHARE, target=conversation_id, username=body.username)
    return ShareList(usernames=usernames)


@router.delete("/{conversation_id}/shares/{username}", status_code=204, responses=ERRORS, dependencies=[Evaluator])
async def unshare_conversation(
    conversation_id: str, username: str, request: Request, db: Db, principal: CurrentPrincipal
) -> Response:
    """Stop sharing it with one account."""
    await _check_owner(db, principal, conversation_id)

    def write() -> None:
        with db.session() as session:
            store.unshare(session, conversation_id=conversation_id, username=username)

    await asyncio.to_thread(write)
    await record_event(request, audit.CONVERSATION_UNSHARE, target=conversation_id, username=username)
    return Response(status_code=204)


async def _check_owner(db: Db, principal: Principal, conversation_id: str) -> None:
    if principal.user_id is None:
        raise InvalidInput("sharing needs accounts: start the arena with ARENA_AUTH_MODE=users")
    await check_conversation(db, principal, conversation_id, need="own")
