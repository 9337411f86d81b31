"""A streamed request (format arena) that must wait for generation units: the response starts at
once with `{"queued": true, "position": N}` lines — N requests ahead; sent when N changes and
every few seconds, so no proxy idles the connection out — then the stream proper.

Refused while it waits (503 once ARENA_QUEUE_TIMEOUT_S has passed, Redis unreachable) or as it
starts (any `ArenaError`), it ends with one line `{"queued": false, "status": …, "error": …}`
(and `retry_after`), since the HTTP status has gone out already as 200. A client that hangs up
leaves the queue at once; whatever it was granted goes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from arena.errors import ArenaError, StorageUnavailable
from arena.storage.failures import is_database_failure, reason
from arena.web.auth.budget import Units
from arena.web.auth.budget_base import Claim
from arena.web.errors import status_for
from arena.web.streaming import NdjsonStreamWithCleanup, line
from arena.web.unexpected import DATABASE_DOWN, where_raised

logger = logging.getLogger(__name__)

Cleanup = Callable[[], Awaitable[None]]
Started = tuple[AsyncIterator[bytes], Cleanup]


def as_arena_error(exc: Exception) -> ArenaError:
    """What a client is told of a failure it cannot act on: the database's as a 503 to retry,
    anything else as the server's own failure (the log has the details)."""
    logger.error("a queued stream could not start: %s: %s", reason(exc), where_raised(exc))
    if is_database_failure(exc):
        return StorageUnavailable(DATABASE_DOWN)
    return ArenaError("internal server error; the server log has the details")


def refusal(exc: ArenaError) -> dict[str, Any]:
    """The last line of a request refused before its stream started."""
    payload: dict[str, Any] = {"queued": False, "status": status_for(exc), "error": str(exc)}
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        payload["retry_after"] = retry_after
    return payload


def queued_stream(
    claim: Claim, start: Callable[[Units], Awaitable[Started]], *, client_gone: Callable[[], Awaitable[None]]
) -> NdjsonStreamWithCleanup:
    """Queue lines until `claim` holds its units, then the stream `start` makes with them."""
    started: list[Cleanup] = []

    async def lines() -> AsyncIterator[bytes]:
        try:
            async for ahead in _until_gone(claim.positions(), client_gone):
                yield line({"queued": True, "position": ahead})
            if claim.units is None:
                return  # the client left: the cleanup takes the request out of the queue
            body, cleanup = await start(claim.units)
        except ArenaError as exc:
            yield line(refusal(exc))
            return
        except Exception as exc:  # the turn could not be written (the database failed): still a last line
            yield line(refusal(as_arena_error(exc)))
            return
        started.append(cleanup)
        async for chunk in body:
            yield chunk

    async def cleanup() -> None:
        try:
            if started:
                await started[0]()
        finally:
            await claim.close()  # leaves the queue, or gives back what a stream never took

    return NdjsonStreamWithCleanup(lines(), cleanup=cleanup)


async def _until_gone(positions: AsyncIterator[int], client_gone: Callable[[], Awaitable[None]]) -> AsyncIterator[int]:
    """`positions`, cut short as soon as the client hangs up (not at the next line it cannot send)."""
    gone = asyncio.ensure_future(client_gone())
    step: asyncio.Future[int] | None = None
    try:
        while True:
            step = asyncio.ensure_future(anext(positions))
            await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                return  # the client left
            try:
                ahead = step.result()
            except StopAsyncIteration:
                return
            yield ahead
    finally:
        # However it ends (a hang-up, a cancel): no step of the wait goes on behind the cleanup.
        for task in (gone, step):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(task for task in (gone, step) if task is not None), return_exceptions=True)
