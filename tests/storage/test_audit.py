"""The audit log's chain on SQLite and PostgreSQL: it links, it notices edits and deletions, and
concurrent writers never fork it. (Signing, the anchor and the key file: test_audit_signing.py.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from arena.storage import audit
from arena.storage.audit_chain import seal
from arena.storage.audit_key import AuditKey, use_audit_key
from arena.storage.audit_models import AuditEntry
from arena.storage.db import Database

KEY = AuditKey(bytes(range(32)))


@pytest.fixture(autouse=True)
def signing(database: Database) -> Iterator[None]:
    """The test database signs with KEY, as one opened by ``migrate`` signs with its key file."""
    use_audit_key(database.engine, KEY)
    yield
    use_audit_key(database.engine, None)


def add(database: Database, action: str = audit.VOTE, *, actor: str = "alice", **detail: object) -> AuditEntry:
    return audit.record(
        database, actor_id=7, actor=actor, action=action, target="conv-1", ip="127.0.0.1", detail=detail
    )


def make_log(database: Database, count: int) -> list[AuditEntry]:
    return [add(database, n=number) for number in range(1, count + 1)]


def tamper(database: Database, sql: str, **params: object) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(sql), params)


def check(database: Database, **kwargs: object) -> audit.VerifyResult:
    with database.session() as session:
        return audit.verify(session, **kwargs)


def test_each_entry_is_chained_to_the_one_before(database: Database) -> None:
    first, second, third = make_log(database, 3)

    assert [first.id, second.id, third.id] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    with database.session() as session:
        stored = session.get(AuditEntry, 2)
        assert stored is not None
        assert (stored.actor, stored.action, stored.target, stored.ip, stored.detail) == (
            "alice",
            "vote",
            "conv-1",
            "127.0.0.1",
            {"n": 2},
        )
        # The signature survives the round trip through the database.
        assert KEY.matches(audit.canonical_content(audit.as_record(stored)), stored.hash)


def test_an_intact_log_verifies_and_reports_its_newest_entry(database: Database) -> None:
    assert check(database).message == "audit log intact: 0 entries"
    entries = make_log(database, 4)

    result = check(database)

    assert result.ok and result.entries == 4
    assert (result.last_id, result.last_hash) == (4, entries[-1].hash)


def test_an_edited_field_is_found(database: Database) -> None:
    make_log(database, 4)
    tamper(database, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")

    result = check(database)

    assert not result.ok and result.bad_id == 3
    assert result.problem == "entry 3 was edited: its content no longer matches its signature"
    assert result.entries == 2


def test_edited_detail_is_found(database: Database) -> None:
    make_log(database, 3)
    tamper(database, """UPDATE audit_log SET detail = '{"n": 99}' WHERE id = 2""")

    assert check(database).bad_id == 2


def test_an_edited_hash_is_found(database: Database) -> None:
    make_log(database, 3)
    tamper(database, "UPDATE audit_log SET hash = :forged WHERE id = 2", forged="f" * 64)

    result = check(database)

    assert (result.ok, result.bad_id) == (False, 2)


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(database: Database) -> None:
    make_log(database, 3)
    with database.session() as session:
        forged = session.get(AuditEntry, 2)
        assert forged is not None
        forged.actor = "mallory"
        seal(forged, KEY)  # even a forger holding the key cannot fix the next entry's link

    result = check(database)

    assert (result.ok, result.bad_id) == (False, 3)
    assert "entry 3 does not follow entry 2" in (result.problem or "")


def test_a_deleted_middle_entry_is_found(database: Database) -> None:
    make_log(database, 5)
    tamper(database, "DELETE FROM audit_log WHERE id IN (2, 3)")

    result = check(database)

    assert (result.ok, result.bad_id) == (False, 4)
    assert result.problem == "entry 2 to 3 deleted: the ids jump from 1 to 4"


def test_a_deleted_first_entry_is_found(database: Database) -> None:
    make_log(database, 2)
    tamper(database, "DELETE FROM audit_log WHERE id = 1")

    assert check(database).problem == "entry 1 deleted: the log starts at 2"


def test_a_cut_off_tail_is_found_only_against_a_checkpoint(database: Database) -> None:
    entries = make_log(database, 4)
    checkpoint = (entries[-1].id, entries[-1].hash)
    assert check(database, checkpoint=checkpoint).ok
    tamper(database, "DELETE FROM audit_log WHERE id = 4")

    assert check(database).ok  # the known limit of a chain: a shorter chain is still a chain
    result = check(database, checkpoint=checkpoint)
    assert (result.ok, result.bad_id) == (False, 4)
    assert "entry 4 from your checkpoint is gone" in (result.problem or "")


def test_a_new_entry_after_a_cut_off_tail_reuses_its_id_but_not_its_hash(database: Database) -> None:
    entries = make_log(database, 3)
    tamper(database, "DELETE FROM audit_log WHERE id = 3")
    add(database)

    result = check(database, checkpoint=(3, entries[-1].hash))
    assert (result.ok, result.bad_id) == (False, 3)
    assert "not the one in your checkpoint" in (result.problem or "")


def test_concurrent_appends_from_threads_form_one_valid_chain(database: Database) -> None:
    threads, per_thread = 6, 8
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(number: int) -> None:
        try:
            start.wait()
            for index in range(per_thread):
                # Each thread its own session and transaction, without the process lock of record():
                # the database lock alone must keep them from chaining onto the same entry.
                with database.session() as session:
                    audit.append(
                        session, actor_id=number, actor=f"user{number}", action=audit.VOTE, detail={"i": index}
                    )
        except BaseException as exc:  # reported below, with the thread's own traceback
            failures.append(exc)

    workers = [threading.Thread(target=writer, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert failures == []
    result = check(database)
    assert result.ok, result.problem
    assert result.entries == threads * per_thread
    with database.session() as session:
        prev_hashes = session.scalars(select(AuditEntry.prev_hash)).all()
    assert len(set(prev_hashes)) == len(prev_hashes)  # nobody chained onto the same entry twice


def test_record_from_threads_also_stays_one_chain(database: Database) -> None:
    workers = [threading.Thread(target=lambda: [add(database) for _ in range(5)]) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    result = check(database)
    assert (result.ok, result.entries) == (True, 20)


@pytest.mark.parametrize("key", ["password", "new_password", "api_key", "Authorization", "access-token", "cookie"])
def test_secrets_are_refused_and_nothing_is_written(database: Database, key: str) -> None:
    with pytest.raises(audit.AuditSecretError, match="secrets never go into the audit log"):
        add(database, **{key: "hunter2"})
    with pytest.raises(audit.AuditSecretError):
        add(database, users=[{"name": "bob", "password": "hunter2"}])

    assert check(database).entries == 0


def test_ordinary_detail_keys_that_mention_tokens_are_allowed(database: Database) -> None:
    entry = add(database, audit.TOKEN_CREATE, token_id=3, token_name="ci")

    assert entry.detail == {"token_id": 3, "token_name": "ci"}


def test_unknown_actions_and_unserialisable_detail_are_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="unknown audit action 'vote.maybe'"):
        add(database, "vote.maybe")
    with pytest.raises(ValueError, match="plain JSON"):
        add(database, when=object())
    with pytest.raises(ValueError, match="over 4096 bytes"):
        add(database, text="x" * 5000)
    assert check(database).entries == 0


def test_list_entries_pages_newest_first_and_filters(database: Database) -> None:
    for number in range(5):
        add(database, audit.VOTE, actor="alice", n=number)
    add(database, audit.USER_ADD, actor="root")
    add(database, audit.USER_ROLE, actor="root")

    with database.session() as session:
        first = audit.list_entries(session, limit=3)
        second = audit.list_entries(session, limit=3, before_id=first.next_before_id)
        third = audit.list_entries(session, limit=3, before_id=second.next_before_id)
        users = audit.list_entries(session, action="user")
        roles = audit.list_entries(session, action="user.role")
        alice = audit.list_entries(session, actor="alice", limit=2)

    assert [e.id for e in first.entries] == [7, 6, 5] and first.next_before_id == 5
    assert [e.id for e in second.entries] == [4, 3, 2] and second.next_before_id == 2
    assert [e.id for e in third.entries] == [1] and third.next_before_id is None
    assert [e.action for e in users.entries] == ["user.role", "user.add"]
    assert [e.action for e in roles.entries] == ["user.role"]
    assert [e.id for e in alice.entries] == [5, 4]


def test_iter_entries_reads_everything_in_batches_oldest_first(database: Database) -> None:
    make_log(database, 7)

    with database.session() as session:
        ids = [entry.id for entry in audit.iter_entries(session, batch_size=3)]

    assert ids == [1, 2, 3, 4, 5, 6, 7]


def test_over_long_names_are_clipped_not_lost(database: Database) -> None:
    entry = add(database, actor="a" * 500)

    assert entry.actor == "a" * 64
    assert check(database).ok


def test_unicode_names_and_detail_hash_the_same_after_the_round_trip(database: Database) -> None:
    add(database, audit.CONVERSATION_DELETE, actor="Zoë", title="日本語 — ✓", ratio=0.1)

    with database.session() as session:
        [entry] = audit.list_entries(session).entries
    assert (entry.actor, entry.detail) == ("Zoë", {"title": "日本語 — ✓", "ratio": 0.1})
    assert check(database).ok
