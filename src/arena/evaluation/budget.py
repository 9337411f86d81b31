"""The generation budget as evaluation code sees it: "hold N units for user U while generating".

One unit is one instance generation in progress. The web layer owns the real budget (per user
and for the whole server, in memory or shared through Redis, see ``arena.web.auth.budget``) and
hands it to work that runs in the background, such as a benchmark run; code here only calls this
protocol, so imports keep pointing downward. A background `wait` queues behind every waiting
interactive request: a benchmark never delays a person. `arena bench worker` draws on the same
budget when it is shared through Redis (ARENA_REDIS_URL); `arena bench run`, and a worker
without Redis, run without one (`UNLIMITED`): the machine owner's own tool, in a process of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, Protocol

# Whose units a run without an owner (no accounts) draws on, where its starter's address is unknown.
NO_OWNER_KEY: Final = "bench:no-owner"


class Budget(Protocol):
    def wait(self, key: str, units: int = 1) -> AbstractAsyncContextManager[object]:
        """Wait until `key` may run `units` more generations; hold them until the block ends
        (however it ends: done, error, cancel)."""
        ...


class _Unlimited:
    @asynccontextmanager
    async def wait(self, key: str, units: int = 1) -> AsyncIterator[object]:
        yield None


UNLIMITED: Budget = _Unlimited()


def owner_key(owner_id: int | None) -> str:
    """The budget key of a run's owner: the key the web layer gives the account (`user:N`)."""
    return f"user:{owner_id}" if owner_id is not None else NO_OWNER_KEY
