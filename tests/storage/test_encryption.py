"""Encryption at rest in storage: what is written is ciphertext, reads give back what was written,
old plaintext rows keep reading, and a wrong or unsafe key fails clearly. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from arena.errors import EncryptionKeyError
from arena.storage import battle_signals as signal_store
from arena.storage import repository
from arena.storage.crypto import Cipher, Keyring, key_id, load_key, new_key, parse_key, read_key_file, write_key_file
from arena.storage.db import Database
from arena.storage.models import Instance
from arena.storage.reencrypt import encrypted_columns
from arena.storage.schema import metadata
from tests.support.encryption import EXPECTED, SECRETS, read_everything, seed_everything

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))


def with_key(database: Database, keyring: Keyring | None) -> Database:
    """Another handle on the same database (the same PostgreSQL schema too), with ``keyring``."""
    return Database(url=database.url.render_as_string(hide_password=False), keyring=keyring)


@pytest.fixture
def encrypted(database: Database) -> Iterator[Database]:
    db = with_key(database, Keyring.of(KEY))
    try:
        yield db
    finally:
        db.dispose()


def raw_values(database: Database) -> list[str]:
    """Every stored value of every encrypted column, as the database holds it."""
    values = []
    with database.engine.connect() as connection:
        for table, columns in encrypted_columns():
            for column in columns:
                cast = "CAST({} AS TEXT)".format(f'"{column.name}"')
                rows = connection.execute(text(f"SELECT {cast} FROM {table.name} WHERE {column.name} IS NOT NULL"))
                values.extend(row[0] for row in rows)
    return values


def every_stored_value(database: Database) -> list[str]:
    """Every non-null value of every column of every table, as text: a secret kept in a column
    that is not encrypted shows up here too."""
    values = []
    with database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for column in table.columns:
                name = f'"{column.name}"'
                rows = connection.execute(text(f'SELECT CAST({name} AS TEXT) FROM "{table.name}" WHERE {name} IS NOT NULL'))
                values.extend(str(row[0]) for row in rows)
    return values


def test_everything_reads_back_and_nothing_is_stored_in_plaintext(encrypted: Database, database: Database) -> None:
    seeded = seed_everything(encrypted)

    stored = raw_values(database)
    assert len(stored) >= len(SECRETS)
    for value in stored:  # a text column holds enc:v1:…; a JSON column the same, as a JSON string
        assert value.strip('"').startswith(f"enc:v1:{key_id(KEY)}:"), value
    everywhere = every_stored_value(database)
    for name, secret in SECRETS.items():
        assert not any(secret[:16] in value for value in everywhere), f"the {name} is stored in plaintext"

    again = with_key(database, Keyring.of(KEY))  # a restart: a new engine with the same key
    try:
        assert read_everything(again, seeded) == EXPECTED
    finally:
        again.dispose()


def test_judge_keys_stored_encrypted_still_name_the_instances_they_are(encrypted: Database) -> None:
    seed_everything(encrypted)  # one judgment between instances, one under the caller's own keys
    with encrypted.session() as session:
        signals = signal_store.battle_signals(session).judgments
        models = {i.id: i.model for i in session.scalars(select(Instance))}

    [battle] = signals  # the raw keys name no instance: no battle
    assert battle.category == SECRETS["judge_category"]
    assert (battle.model_a, battle.model_b) == (models[battle.instance_a], models[battle.instance_b])


def test_rows_written_before_encryption_was_turned_on_still_read(encrypted: Database, database: Database) -> None:
    seeded = seed_everything(database)  # no key: plaintext
    assert any(SECRETS["user_text"] in value for value in raw_values(database))

    assert read_everything(encrypted, seeded) == EXPECTED

    with encrypted.session() as session:  # new writes are encrypted beside the old plaintext
        repository.rename_conversation(session, conversation_id=seeded.conversation_id, title="Renamed in secret")
    assert not any("Renamed in secret" in value for value in raw_values(database))
    assert read_everything(encrypted, seeded)["title"] == "Renamed in secret"


def test_a_wrong_key_or_no_key_fails_clearly_and_stops_start_up(encrypted: Database, database: Database) -> None:
    seeded = seed_everything(encrypted)
    wrong = with_key(database, Keyring.of(OTHER_KEY))
    try:
        with pytest.raises(EncryptionKeyError) as raised:
            read_everything(wrong, seeded)
        assert f"encrypted with key {key_id(KEY)}, but the configured key is {key_id(OTHER_KEY)}" in str(raised.value)
        with pytest.raises(EncryptionKeyError, match=f"encrypted with key {key_id(KEY)}"):
            wrong.migrate()  # what start-up runs
    finally:
        wrong.dispose()

    with pytest.raises(EncryptionKeyError, match="no encryption key is configured: set ARENA_ENCRYPTION_KEY"):
        database.migrate()  # the plain handle has no key at all
    encrypted.migrate()  # the right key passes the check


def test_equal_texts_encrypt_differently_and_a_moved_ciphertext_does_not_open() -> None:
    cipher = Cipher(KEY)
    first = cipher.encrypt("same words", context="turns.user_text")
    second = cipher.encrypt("same words", context="turns.user_text")

    assert first != second
    assert cipher.decrypt(first, context="turns.user_text") == cipher.decrypt(second, context="turns.user_text")
    with pytest.raises(EncryptionKeyError, match="altered or moved"):
        cipher.decrypt(first, context="conversations.title")
    tampered = first[:-6] + ("A" if first[-6] != "A" else "B") + first[-5:]
    with pytest.raises(EncryptionKeyError, match="altered or moved"):
        cipher.decrypt(tampered, context="turns.user_text")


@pytest.mark.parametrize(
    "search", ["diary", "LIGHTHOUSE", "élan", "50%", "a_b", "nothing like it", "  keeper  "]
)
def test_search_over_encrypted_titles_finds_what_the_sql_search_finds(
    database: Database, encrypted: Database, search: str
) -> None:
    titles = ["Lighthouse keeper's diary", "Élan vital", "50% off", "a_b test", "axb test", "Harbour log"]
    plain_ids = []
    for title in titles:
        with database.session() as session:
            plain_ids.append(repository.create_conversation(session, title=title).id)
    with database.session() as session:
        expected = [c.title for c in repository.list_conversations(session, search=search)]
        expected_page = [c.title for c in repository.list_conversations(session, search="t", limit=2, offset=1)]
    for conversation_id in plain_ids:
        with database.session() as session:
            repository.delete_conversation(session, conversation_id=conversation_id)
    for title in titles:
        with encrypted.session() as session:
            repository.create_conversation(session, title=title)

    with encrypted.session() as session:
        found = [c.title for c in repository.list_conversations(session, search=search)]
        page = [c.title for c in repository.list_conversations(session, search="t", limit=2, offset=1)]

    assert found == expected
    assert page == expected_page and len(page) == 2
    assert not any("Harbour log" in value for value in raw_values(database))


# --- keys -----------------------------------------------------------------------------------


def test_a_key_is_read_from_standard_or_urlsafe_base64_and_a_bad_one_is_refused() -> None:
    generated = new_key()
    assert len(parse_key(generated, source="test")) == 32
    assert parse_key(base64.b64encode(KEY).decode(), source="x") == KEY
    assert parse_key(base64.urlsafe_b64encode(KEY).decode().rstrip("="), source="x") == KEY
    with pytest.raises(EncryptionKeyError, match="ARENA_ENCRYPTION_KEY is 16 bytes; it must be 32 random bytes"):
        load_key(key=base64.b64encode(KEY[:16]).decode(), key_file=None)
    with pytest.raises(EncryptionKeyError, match="is not base64"):
        load_key(key="not a key at all!", key_file=None)
    with pytest.raises(EncryptionKeyError, match="not both"):
        load_key(key=generated, key_file=Path("key"))
    assert load_key(key=None, key_file=None) is None


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_file_others_can_read_is_refused_and_keygen_writes_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / "arena.key"
    write_key_file(path, new_key())
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(read_key_file(path)) == 32
    with pytest.raises(EncryptionKeyError, match="never overwritten"):
        write_key_file(path, new_key())

    path.chmod(0o644)
    with pytest.raises(EncryptionKeyError) as raised:
        load_key(key=None, key_file=path)
    assert str(raised.value) == f"the key file {path} is open to other users (mode 0644); run: chmod 600 {path}"
    with pytest.raises(EncryptionKeyError, match="cannot read the key file"):
        load_key(key=None, key_file=tmp_path / "missing.key")


def test_no_error_message_contains_the_key(tmp_path: Path) -> None:
    short = base64.b64encode(KEY[:20]).decode()
    with pytest.raises(EncryptionKeyError) as raised:
        load_key(key=short, key_file=None)
    assert short not in str(raised.value)
    assert "Cipher(key_id=" in repr(Cipher(KEY)) and KEY.hex() not in repr(Cipher(KEY))
