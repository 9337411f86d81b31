"""Conversations belong to their owner: who may read them, and who may change them.

With accounts (`users` mode) another user's conversation answers 404, as if it did not exist,
unless it was shared with them: then they may read, export, vote and judge, but only the owner
may add turns, rename, reveal, share or delete. Conversations from before accounts were turned
on have no owner; admins hold them. Without accounts (modes none and token) the one local user
owns everything.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from arena.errors import NotFound
from arena.storage import accounts as store
from arena.storage.db import Database
from arena.web.auth.principal import Principal

Need = Literal["read", "own"]


def _missing(conversation_id: str) -> NotFound:
    return NotFound(f"conversation {conversation_id!r} does not exist")


def check_conversation_sync(db: Database, principal: Principal, conversation_id: str, *, need: Need) -> None:
    if principal.user_id is None:
        return
    with db.session() as session:
        access = store.conversation_access(
            session, conversation_id=conversation_id, user_id=principal.user_id, is_admin=principal.role == "admin"
        )
    if access is None or (need == "own" and access != "owner"):
        raise _missing(conversation_id)


async def check_conversation(db: Database, principal: Principal, conversation_id: str, *, need: Need) -> None:
    if principal.user_id is None:
        return
    await asyncio.to_thread(check_conversation_sync, db, principal, conversation_id, need=need)


async def check_turn(db: Database, principal: Principal, turn_id: int, *, need: Need) -> None:
    """The turn's conversation must be reachable; an unreachable turn is as good as missing."""
    if principal.user_id is None:
        return

    def check() -> None:
        with db.session() as session:
            conversation_id = store.turn_conversation_id(session, turn_id=turn_id)
        if conversation_id is None:
            return  # the route's own lookup reports the missing turn
        try:
            check_conversation_sync(db, principal, conversation_id, need=need)
        except NotFound:
            raise NotFound(f"turn {turn_id} does not exist") from None

    await asyncio.to_thread(check)
