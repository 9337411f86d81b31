"""This server process's lease on the database, from start-up to shutdown (storage/process_leases.py).

At start-up: say loudly when another live process shares the database without Redis (rate
limits, stream caps and stop signals are then held in each process's memory), register, and close the answers of processes that are gone. Then renew the lease every
RENEW_S, closing meanwhile the answers of any process whose lease has run out (but not right
after a database outage: see `keep_lease`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from arena.storage.db import Database
from arena.storage.failures import reason
from arena.storage.process_leases import (
    LEASE_S,
    RENEW_S,
    ProcessIdentity,
    live_others,
    recover_orphaned_responses,
    register,
    release,
    renew,
    this_process,
)
from arena.storage.process_models import ServerProcess

logger = logging.getLogger(__name__)

SHARED_DATABASE_WARNING = (
    "ANOTHER ARENA SERVER PROCESS IS LIVE ON THIS DATABASE (%s). Without ARENA_REDIS_URL each process keeps "
    "its own rate limits, stream caps and stop handles, so together they allow more than configured, and "
    "/api/stop reaches only the process that runs the stream: give every process the same ARENA_REDIS_URL, "
    "or run one server process per database."
)


async def start_lease(database: Database, *, shared_state: bool = False) -> ProcessIdentity:
    """Register this process; answers it streams from now on name it as their owner.
    `shared_state`: the processes share a Redis, so another live one is expected, not a warning."""
    me = this_process()
    others, recovered = await asyncio.to_thread(_start, database, me)
    database.process_id = me.id
    database.process_host = me.host
    if others:
        described = ", ".join(f"host {p.host} pid {p.pid}, up since {p.started_at:%Y-%m-%d %H:%M:%S}Z" for p in others)
        if shared_state:
            logger.info("other server processes share this database and Redis: %s", described)
        else:
            logger.warning(SHARED_DATABASE_WARNING, described)
    if recovered:
        logger.warning("closed %d answers left streaming by server processes that are gone", recovered)
    return me


def _start(database: Database, me: ProcessIdentity) -> tuple[list[ServerProcess], int]:
    with database.session() as session:
        others = live_others(session, me)
        register(session, me)
        recovered = recover_orphaned_responses(session, me, include_unowned=True)
    return others, recovered


async def keep_lease(
    database: Database, me: ProcessIdentity, *, renew_s: float = RENEW_S, trust_after_s: float = LEASE_S
) -> None:
    """Renew the lease until cancelled; a database that fails now and then only delays it.

    After this process could not reach the database, it closes nobody's answers until it has
    renewed for a whole lease (`trust_after_s`): the outage that kept it from renewing kept the
    others from renewing too, and their leases ran out only for that; by then each live one has
    renewed again, and only the truly gone are closed."""
    recover_from = time.monotonic()  # start-up has just recovered, with the database reachable
    while True:
        await asyncio.sleep(renew_s)
        recover = time.monotonic() >= recover_from
        try:
            recovered = await asyncio.to_thread(_renew, database, me, recover=recover)
        except Exception as exc:
            logger.warning("could not renew this server process's lease: %s", reason(exc))
            recover_from = time.monotonic() + trust_after_s
            continue
        if recovered:
            logger.warning("closed %d answers left streaming by a server process whose lease ran out", recovered)


def _renew(database: Database, me: ProcessIdentity, *, recover: bool) -> int:
    with database.session() as session:
        renew(session, me)
        return recover_orphaned_responses(session, me, include_unowned=False) if recover else 0


async def end_lease(database: Database, me: ProcessIdentity) -> None:
    try:
        await asyncio.to_thread(_release, database, me)
    except Exception as exc:  # the lease then simply runs out
        logger.warning("could not release this server process's lease: %s", reason(exc))


def _release(database: Database, me: ProcessIdentity) -> None:
    with database.session() as session:
        release(session, me)
