"""Every object a user creates belongs to them: the one place the web layer enforces it.

The rule itself is ``arena.storage.ownership`` (the same for conversations, benchmark runs and
raw-prompt judge runs, as a check and as a SQL filter for the lists): the owner may do
everything; an admin reads another user's benchmark and judge runs, never their conversations;
objects with no owner (from before accounts, or a removed user's) are the admins'; anyone else
gets **404, as if the object did not exist** — never 403, which would tell them it does. A
conversation shared with a user may be read by them (read, export, vote, judge), and only its
owner changes, reveals, shares or deletes it. Judgments about a stored turn follow their
conversation. API tokens and shares are reached only through their owner (the token routes
look up the caller's own tokens; a share is changed through its conversation, ``need="own"``).

Without accounts (modes none and token) the one local user owns everything, as the CLI does.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from arena.errors import NotFound
from arena.storage import accounts as account_store
from arena.storage import bench as bench_store
from arena.storage.db import Database
from arena.storage.ownership import Access, Reader, access, conversation_access
from arena.web.auth.principal import Principal

Need = Literal["read", "own"]
BENCH_RUN = "benchmark run"
CONVERSATION = "conversation"


def reader_of(principal: Principal) -> Reader | None:
    """Whom the ownership rule asks about; None for the local user of modes none and token."""
    if principal.user_id is None:
        return None
    return Reader(user_id=principal.user_id, is_admin=principal.role == "admin")


def enforce(found: Access | None, *, need: Need, noun: str, reference: str | int) -> None:
    """The one answer to a caller without the right: the object does not exist for them."""
    if found is None:
        raise NotFound(f"{noun} {reference!r} does not exist")
    if need == "own" and found != "owner":
        # Said only to someone who may read it, so it tells them nothing new.
        raise NotFound(f"{noun} {reference!r} does not exist, or is not yours to change")


# --- conversations and their turns -------------------------------------------------------------


def check_conversation_sync(db: Database, principal: Principal, conversation_id: str, *, need: Need) -> None:
    reader = reader_of(principal)
    if reader is None:
        return
    with db.session() as session:
        found = conversation_access(session, conversation_id=conversation_id, reader=reader)
    # A shared reader is refused a change as if the conversation were missing, like everyone else.
    enforce(found, need=need, noun=CONVERSATION, reference=conversation_id)


async def check_conversation(db: Database, principal: Principal, conversation_id: str, *, need: Need) -> None:
    if principal.user_id is None:
        return
    await asyncio.to_thread(check_conversation_sync, db, principal, conversation_id, need=need)


async def check_turn(db: Database, principal: Principal, turn_id: int, *, need: Need) -> None:
    """The turn's conversation must be reachable; an unreachable turn is as good as missing, and
    a missing one is missing here, not left to the route: /api/stop looks the stream up in Redis,
    where another deployment's (or a deleted conversation's) turn of that number may be running."""
    if principal.user_id is None:
        return

    def check() -> None:
        with db.session() as session:
            conversation_id = account_store.turn_conversation_id(session, turn_id=turn_id)
        if conversation_id is None:
            raise NotFound(f"turn {turn_id} does not exist")
        try:
            check_conversation_sync(db, principal, conversation_id, need=need)
        except NotFound:
            raise NotFound(f"turn {turn_id} does not exist") from None

    await asyncio.to_thread(check)


# --- benchmark runs ------------------------------------------------------------------------------


def check_bench_run_sync(db: Database, principal: Principal, reference: str, *, need: Need) -> str:
    """The full id of the run ``reference`` names (an id or a unique prefix), if the caller may
    ``need`` it; prefixes are matched among the caller's visible runs only."""
    reader = reader_of(principal)
    with db.session() as session:
        run_id = bench_store.resolve_run_id(session, reference=reference, reader=reader)
        owner_id = bench_store.run_owner(session, run_id=run_id)
    enforce(access(reader, owner_id=owner_id, admin_reads=True), need=need, noun=BENCH_RUN, reference=reference)
    return run_id


async def check_bench_run(db: Database, principal: Principal, reference: str, *, need: Need) -> str:
    return await asyncio.to_thread(check_bench_run_sync, db, principal, reference, need=need)
