"""A database outage longer than a lease must not cost live processes their answers: every
process failed to renew meanwhile, so every lease ran out. The first process to reach the
database again closes nobody's answers until it has renewed for a whole lease, by which time
each live process has renewed too; only a process that stays silent is taken for gone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from arena.storage import process_leases as leases
from arena.storage.db import Database
from arena.storage.models import utcnow
from arena.storage.process_models import ServerProcess
from arena.web import process_lease
from tests.storage.test_process_leases import other, statuses, streaming_answer
from tests.support.faults import database_gone

ME = leases.ProcessIdentity(id="me" * 8, host="here", pid=100)
RENEW_S, TRUST_S = 0.05, 0.6


def all_leases_ran_out(database: Database) -> None:
    """What an outage longer than LEASE_S leaves behind: nobody could renew."""
    with database.session() as session:
        session.execute(update(ServerProcess).values(heartbeat_at=utcnow() - timedelta(seconds=leases.LEASE_S + 1)))


@pytest.mark.timeout(30)
def test_after_an_outage_live_processes_keep_their_answers(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    live, dead = other("live"), other("dead")
    with database.session() as session:
        for process in (ME, live, dead):
            leases.register(session, process)
    streaming = {"live": streaming_answer(database, live.id), "dead": streaming_answer(database, dead.id)}

    outage = {"on": True}
    renew = process_lease._renew

    def flaky_renew(*args: Any, **kwargs: Any) -> int:
        if outage["on"]:
            raise database_gone(statement="UPDATE server_processes")
        return renew(*args, **kwargs)

    monkeypatch.setattr(process_lease, "_renew", flaky_renew)

    async def scenario() -> None:
        keeping = asyncio.create_task(process_lease.keep_lease(database, ME, renew_s=RENEW_S, trust_after_s=TRUST_S))
        try:
            await asyncio.sleep(RENEW_S * 4)  # this process fails to renew, and so does everyone
            all_leases_ran_out(database)
            outage["on"] = False  # the database is back: this process renews first
            await asyncio.sleep(TRUST_S / 2)
            found = statuses(database)
            assert found[streaming["live"]][0] == "streaming", "a live answer was closed right after the outage"
            with database.session() as session:
                leases.renew(session, live)  # the live process reaches the database within the lease
            await asyncio.sleep(TRUST_S)
        finally:
            keeping.cancel()
            await asyncio.gather(keeping, return_exceptions=True)

    asyncio.run(scenario())
    found = statuses(database)
    assert found[streaming["live"]] == ("streaming", "half an ans")
    assert found[streaming["dead"]] == ("stopped", "half an ans"), "a process that stays silent is still recovered"
