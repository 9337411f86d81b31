"""The signed audit log on SQLite and PostgreSQL: an old unsigned chain closed by a signed anchor,
and a key file that is missing, wrong or open to others stopping start-up with one clear line."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from arena.storage import audit
from arena.storage.audit_key import AuditKey, AuditKeyError, create_key_file
from arena.storage.audit_models import AuditEntry
from arena.storage.db import Database
from arena.storage.models import utcnow

Open = Callable[[Path], Database]


def old_hash(entry: AuditEntry) -> str:
    """How the arena hashed an entry before the log was keyed: SHA-256 of its content, no key_id."""
    record = {key: value for key, value in audit.as_record(entry).items() if key not in ("hash", "key_id")}
    return hashlib.sha256(
        json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def write_old_log(database: Database, count: int) -> list[str]:
    """An unsigned chain as an arena before the keyed log left it; returns the hashes."""
    hashes: list[str] = []
    with database.session() as session:
        for number in range(1, count + 1):
            entry = AuditEntry(
                id=number, created_at=utcnow(), actor_id=1, actor="alice", action=audit.VOTE, target=f"c{number}",
                ip="127.0.0.1", detail={"n": number}, prev_hash=hashes[-1] if hashes else audit.GENESIS_HASH,
            )  # fmt: skip
            entry.hash = old_hash(entry)
            session.add(entry)
            session.flush()
            hashes.append(entry.hash)
    return hashes


@pytest.fixture
def opened(database: Database, tmp_path: Path) -> Iterator[Open]:
    """Open the test database as the arena does at start-up, with the audit key in ``key_file``."""
    opened_here: list[Database] = []

    def open_with(key_file: Path) -> Database:
        signing = Database(url=database.url.render_as_string(hide_password=False), audit_key_file=key_file)
        opened_here.append(signing)
        signing.migrate()
        return signing

    yield open_with
    for signing in opened_here:
        signing.dispose()


def check(database: Database, **kwargs: object) -> audit.VerifyResult:
    with database.session() as session:
        return audit.verify(session, **kwargs)


def test_an_old_unsigned_chain_is_closed_by_a_signed_anchor_and_still_verifies(
    database: Database, opened: Open, tmp_path: Path
) -> None:
    old = write_old_log(database, 3)
    key_file = tmp_path / "keys" / "audit.key"

    signing = opened(key_file)
    audit.record(signing, actor_id=1, actor="alice", action=audit.VOTE, target="c4")
    opened(key_file)  # a second start adds no second anchor

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with signing.session() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    anchor = entries[3]
    assert (anchor.action, anchor.prev_hash, anchor.detail) == ("audit.anchor", old[-1], {"closes_entry": 3})
    assert [e.key_id for e in entries] == [None, None, None, anchor.key_id, anchor.key_id] and anchor.key_id
    assert [e.hash for e in entries[:3]] == old, "old entries keep their hashes"
    result = check(signing)
    assert (result.ok, result.entries, result.unchecked) == (True, 5, 0), result.problem
    # Without the key only the unsigned part is checked, and the result says so.
    without = check(database)
    assert (without.ok, without.unchecked) == (True, 2)
    assert (
        "the 3 unsigned entries are intact, but the 2 signed entries after them need the audit key" in without.message
    )
    # The unsigned part is still checked: an edit there is found, with or without the key.
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
    assert (check(signing).bad_id, check(database).bad_id) == (2, 2)


def test_an_anchor_removed_and_the_tail_reattached_is_found(
    database: Database, opened: Open, tmp_path: Path
) -> None:
    write_old_log(database, 2)
    signing = opened(tmp_path / "audit.key")
    audit.record(signing, actor_id=1, actor="alice", action=audit.VOTE)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET action = 'vote' WHERE id = 3"))

    result = check(signing)

    assert (result.ok, result.bad_id) == (False, 3)


def test_a_wrong_key_stops_start_up_and_fails_verify_naming_both_keys(
    database: Database, opened: Open, tmp_path: Path
) -> None:
    signing = opened(tmp_path / "audit.key")
    audit.record(signing, actor_id=1, actor="alice", action=audit.VOTE)
    other = create_key_file(tmp_path / "other.key")
    assert other is not None

    with pytest.raises(AuditKeyError, match=r"the audit log is signed with key [0-9a-f]{8}, but .*other.key holds key"):
        opened(tmp_path / "other.key")
    result = check(database, key=other)
    assert (result.ok, result.bad_id) == (False, 1)
    assert f"is signed with audit key {signing_key_id(signing)}, but the key in {other.path} is {other.key_id}" in (
        result.problem or ""
    )
    assert not check(database, key=AuditKey(b"x" * 32)).ok


def signing_key_id(database: Database) -> str:
    with database.session() as session:
        return session.scalars(select(AuditEntry.key_id)).first() or ""


def test_a_signed_log_whose_key_file_is_gone_does_not_start(
    database: Database, opened: Open, tmp_path: Path
) -> None:
    audit.record(opened(tmp_path / "audit.key"), actor_id=1, actor="alice", action=audit.VOTE)
    (tmp_path / "audit.key").unlink()

    with pytest.raises(AuditKeyError, match="its key file .*audit.key is missing: restore it from your backup"):
        opened(tmp_path / "audit.key")
    assert not (tmp_path / "audit.key").exists(), "a lost key is not silently replaced"


def test_a_key_file_others_can_read_is_refused(database: Database, opened: Open, tmp_path: Path) -> None:
    opened(tmp_path / "audit.key")
    (tmp_path / "audit.key").chmod(0o644)

    with pytest.raises(AuditKeyError, match="open to other users .*chmod 600"):
        opened(tmp_path / "audit.key")


def test_a_database_without_its_key_cannot_append(database: Database) -> None:
    with pytest.raises(AuditKeyError, match="written only with its key"):
        audit.record(database, actor_id=1, actor="alice", action=audit.VOTE)
