"""Process leases: recovery closes the answers of processes that are gone, and only those."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from arena.errors import Conflict
from arena.storage import process_leases as leases
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.models import Response, utcnow
from arena.storage.process_models import ServerProcess
from tests.support.builders import add_conversation_with_instances

ME = leases.ProcessIdentity(id="me" * 8, host="here", pid=100)


def other(name: str, *, host: str = "elsewhere", pid: int = 7) -> leases.ProcessIdentity:
    return leases.ProcessIdentity(id=name.ljust(16, "0"), host=host, pid=pid)


def streaming_answer(database: Database, owner: str | None) -> int:
    """A response still streaming, owned by `owner` as a server process would write it."""
    database.process_id = owner
    try:
        with database.session() as session:
            conversation, [instance_id, _] = add_conversation_with_instances(session)
            turn = repository.add_turn(session, conversation_id=conversation.id, user_text="hi")
            response = repository.start_response(session, turn_id=turn.id, instance_id=instance_id)
            repository.update_response_text(session, response_id=response.id, text="half an ans")
            return response.id
    finally:
        database.process_id = None


def statuses(database: Database) -> dict[int, tuple[str, str]]:
    with database.session() as session:
        return {r.id: (r.status, r.text) for r in session.scalars(select(Response))}


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_recovery_closes_only_the_answers_of_processes_that_are_gone(database: Database) -> None:
    live, expired, crashed = other("live"), other("expired"), other("crashed", host="here", pid=dead_pid())
    with database.session() as session:
        for process in (live, expired, crashed):
            leases.register(session, process)
        session.execute(
            update(ServerProcess)
            .where(ServerProcess.id == expired.id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=leases.LEASE_S + 1))
        )
    answers = {
        name: streaming_answer(database, owner)
        for name, owner in [
            ("live", live.id),
            ("expired", expired.id),
            ("crashed", crashed.id),
            ("mine", ME.id),
            ("unleased", "nobody".ljust(16, "0")),
            ("unowned", None),
        ]
    }

    with database.session() as session:
        # Every few seconds while running: answers that name no owner are left to start-up.
        assert leases.recover_orphaned_responses(session, ME, include_unowned=False) == 3
    found = statuses(database)
    assert {name for name, rid in answers.items() if found[rid][0] == "stopped"} == {"expired", "crashed", "unleased"}
    assert all(found[answers[name]] == ("streaming", "half an ans") for name in ("live", "mine", "unowned"))
    assert found[answers["expired"]] == ("stopped", "half an ans"), "closed with its partial text"

    with database.session() as session:
        assert leases.recover_orphaned_responses(session, ME, include_unowned=True) == 1  # start-up
        assert set(session.scalars(select(ServerProcess.id))) == {live.id}, "gone leases are dropped"
    assert statuses(database)[answers["live"]][0] == "streaming"


def test_a_lease_renewed_after_another_process_dropped_it_comes_back(database: Database) -> None:
    with database.session() as session:
        leases.register(session, ME)
    with database.session() as session:
        session.execute(ServerProcess.__table__.delete())
    with database.session() as session:
        leases.renew(session, ME)
        assert [p.id for p in leases.live_others(session, other("x"))] == [ME.id]
    with database.session() as session:
        leases.release(session, ME)
        assert leases.live_others(session, other("x")) == []


def test_this_hosts_processes_count_as_alive_only_while_their_pid_runs(database: Database) -> None:
    me = leases.this_process()
    with database.session() as session:
        leases.register(session, leases.ProcessIdentity(id="running".ljust(16, "0"), host=me.host, pid=1))
        leases.register(session, leases.ProcessIdentity(id="dead".ljust(16, "0"), host=me.host, pid=dead_pid()))
        assert [p.id for p in leases.live_others(session, me)] == ["running".ljust(16, "0")]


def test_a_frozen_owner_ends_its_answer_whole_after_recovery_closed_it(database: Database) -> None:
    """An owner frozen (or cut off) past its lease had its answer closed by another process as
    `stopped` with partial text; when it comes back with the whole answer, that is what stays.
    Nobody else's final write may reopen a closed answer."""
    frozen = other("frozen")
    with database.session() as session:
        leases.register(session, frozen)
        session.execute(
            update(ServerProcess)
            .where(ServerProcess.id == frozen.id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=leases.LEASE_S + 1))
        )
    answer = streaming_answer(database, frozen.id)
    with database.session() as session:
        assert leases.recover_orphaned_responses(session, ME, include_unowned=False) == 1
    assert statuses(database)[answer] == ("stopped", "half an ans")

    database.process_id = ME.id  # another process may not overwrite it
    try:
        with database.session() as session, pytest.raises(Conflict):
            repository.finish_response(session, response_id=answer, text="not mine", status="ok")
    finally:
        database.process_id = None
    database.process_id = frozen.id  # its owner, thawed, ends it whole
    try:
        with database.session() as session:
            repository.finish_response(session, response_id=answer, text="half an answer, whole", status="ok")
    finally:
        database.process_id = None
    assert statuses(database)[answer] == ("ok", "half an answer, whole")
