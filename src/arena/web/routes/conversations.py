"""Stored conversations: create, list, read, rename, delete."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request

from arena.evaluation.conversation.conversations import create_conversation as start_conversation
from arena.evaluation.conversation.instances import check_instances
from arena.evaluation.conversation.view import conversation_view
from arena.storage import audit, repository
from arena.storage.models import Conversation
from arena.web.audit_events import record_event
from arena.web.auth.ownership import check_conversation
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, ModelRouter, Viewer
from arena.web.openapi import error_responses
from arena.web.schemas.conversations import (
    ConversationCreate,
    ConversationDetailPublic,
    ConversationList,
    ConversationPublic,
    ConversationUpdate,
)

router = APIRouter(prefix="/api/conversations", tags=["conversations"], dependencies=[Viewer])

ERRORS = error_responses(400, 404, 413, 422, 503)
SHOW_METRICS = (
    "Blind conversations before the reveal: include each answer's metrics (speed, tokens, cache state), "
    "which can tell models apart. Left out by default; always included otherwise."
)


def _summary(c: Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=c.id,
        title=c.title,
        blind=c.blind,
        created_at=c.created_at,
        updated_at=c.updated_at,
        revealed_at=c.revealed_at,
        imported=c.imported,
    )


def conversation_detail(db: Db, conversation_id: str, show_metrics: bool = False) -> ConversationDetailPublic:
    """The detail a client may see (masked while blind); blocking, call it in a thread."""
    view = conversation_view(db, conversation_id=conversation_id, show_metrics=show_metrics)
    return ConversationDetailPublic.from_view(view)


@router.post("", status_code=201, response_model=ConversationDetailPublic, responses=ERRORS, dependencies=[Evaluator])
async def create_conversation(
    body: ConversationCreate, db: Db, settings: AppSettings, models: ModelRouter, principal: CurrentPrincipal
) -> ConversationDetailPublic:
    """Start a conversation with its model instances; a blind one shuffles and hides them."""
    check_instances(list(body.model_instances), max_instances=settings.max_instances)
    for model in dict.fromkeys(instance.model for instance in body.model_instances):
        await models.check_known(model)

    def write() -> ConversationDetailPublic:
        conversation_id = start_conversation(
            database=db,
            instances=list(body.model_instances),
            title=body.title,
            blind=body.blind,
            max_instances=settings.max_instances,
            owner_id=principal.user_id,
        )
        return conversation_detail(db, conversation_id)

    return await asyncio.to_thread(write)


@router.get("", response_model=ConversationList, responses=ERRORS)
async def list_conversations(
    db: Db,
    principal: CurrentPrincipal,
    search: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> ConversationList:
    """Your conversations and those shared with you, most recently active first; `search` matches titles."""
    visible_to = (principal.user_id, principal.role == "admin") if principal.user_id is not None else None

    def read() -> ConversationList:
        with db.session() as session:
            found = repository.list_conversations(
                session, search=search, limit=limit, offset=offset, visible_to=visible_to
            )
            return ConversationList(conversations=[_summary(c) for c in found])

    return await asyncio.to_thread(read)


@router.get("/{conversation_id}", response_model=ConversationDetailPublic, responses=ERRORS)
async def get_conversation(
    conversation_id: str,
    db: Db,
    principal: CurrentPrincipal,
    show_metrics: bool = Query(False, description=SHOW_METRICS),
) -> ConversationDetailPublic:
    """One conversation with its instances, every turn's latest answers and the votes."""
    await check_conversation(db, principal, conversation_id, need="read")
    return await asyncio.to_thread(conversation_detail, db, conversation_id, show_metrics)


@router.patch("/{conversation_id}", response_model=ConversationPublic, responses=ERRORS, dependencies=[Evaluator])
async def rename_conversation(
    conversation_id: str, body: ConversationUpdate, db: Db, principal: CurrentPrincipal
) -> ConversationPublic:
    """Rename a conversation."""
    await check_conversation(db, principal, conversation_id, need="own")

    def write() -> ConversationPublic:
        with db.session() as session:
            return _summary(repository.rename_conversation(session, conversation_id=conversation_id, title=body.title))

    return await asyncio.to_thread(write)


@router.delete("/{conversation_id}", status_code=204, responses=ERRORS, dependencies=[Evaluator])
async def delete_conversation(conversation_id: str, request: Request, db: Db, principal: CurrentPrincipal) -> None:
    """Delete a conversation with its turns, answers and votes."""
    await check_conversation(db, principal, conversation_id, need="own")

    def write() -> None:
        with db.session() as session:
            repository.delete_conversation(session, conversation_id=conversation_id)

    await asyncio.to_thread(write)
    await record_event(request, audit.CONVERSATION_DELETE, target=conversation_id)
