"""`arena db keygen` and `arena db rekey` on a real SQLite file: plaintext → encrypted → a new
key → plaintext again, with no trace of the old form left in the file or its WAL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.errors import EncryptionKeyError
from arena.storage.crypto import Keyring, key_id, parse_key, read_key_file
from arena.storage.db import Database
from tests.support.encryption import EXPECTED, SECRETS, Seeded, read_everything, seed_everything

runner = CliRunner()
pytestmark = pytest.mark.skipif(os.name != "posix", reason="key files rely on POSIX modes")


def file_bytes(database_file: Path) -> bytes:
    wal = database_file.with_name(database_file.name + "-wal")
    return database_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def leaked(database_file: Path) -> list[str]:
    raw = file_bytes(database_file)
    return [name for name, secret in SECRETS.items() if secret[:16].encode() in raw]


def reads_with(database_file: Path, keyring: Keyring | None, seeded: Seeded) -> dict:
    database = Database(url=f"sqlite:///{database_file}", keyring=keyring)
    try:
        database.migrate()
        return read_everything(database, seeded)
    finally:
        database.dispose()


def arena_db(*args: str, key_file: Path | None = None) -> object:
    env = {"COLUMNS": "200", **({"ARENA_ENCRYPTION_KEY_FILE": str(key_file)} if key_file else {})}
    return runner.invoke(app, ["db", *args], env=env)


def test_rekey_turns_encryption_on_changes_the_key_and_turns_it_off(isolated_environment: Path, tmp_path: Path) -> None:
    database_file = isolated_environment / "arena.db"
    plain = Database(url=f"sqlite:///{database_file}")
    plain.migrate()
    seeded = seed_everything(plain)
    plain.dispose()
    assert set(leaked(database_file)) == set(SECRETS)

    first, second = tmp_path / "first.key", tmp_path / "second.key"
    for key_file in (first, second):
        made = arena_db("keygen", "--output", str(key_file))
        assert made.exit_code == 0, made.output
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert key_file.read_text().strip() not in made.output  # the key itself is never shown
    first_key, second_key = read_key_file(first), read_key_file(second)

    on = arena_db("rekey", key_file=first)
    assert on.exit_code == 0, on.output
    assert f"under key {key_id(first_key)}" in on.output
    assert leaked(database_file) == []
    assert reads_with(database_file, Keyring.of(first_key), seeded) == EXPECTED

    # The new key alone cannot read the data, so rekey needs the old one, and leaves all as it was without it.
    refused = arena_db("rekey", key_file=second)
    assert refused.exit_code == 2
    assert f"encrypted with key {key_id(first_key)}, but the configured key is {key_id(second_key)}" in " ".join(
        refused.output.split()
    )
    assert reads_with(database_file, Keyring.of(first_key), seeded) == EXPECTED

    moved = arena_db("rekey", "--old-key-file", str(first), key_file=second)
    assert moved.exit_code == 0, moved.output
    assert leaked(database_file) == []
    assert reads_with(database_file, Keyring.of(second_key), seeded) == EXPECTED
    with pytest.raises(EncryptionKeyError, match=f"encrypted with key {key_id(second_key)}"):
        reads_with(database_file, Keyring.of(first_key), seeded)

    off = arena_db("rekey", "--decrypt", key_file=second)
    assert off.exit_code == 0, off.output
    assert "as plaintext" in off.output
    assert reads_with(database_file, None, seeded) == EXPECTED


def test_rekey_without_a_key_says_how_to_get_one() -> None:
    result = arena_db("rekey")
    assert result.exit_code == 2
    assert "no encryption key is configured" in result.output and "arena db keygen" in result.output


def test_keygen_prints_a_fresh_key_when_no_file_is_given() -> None:
    first, second = arena_db("keygen"), arena_db("keygen")
    assert first.exit_code == 0 and second.exit_code == 0
    assert len(parse_key(first.output.strip(), source="keygen")) == 32
    assert first.output != second.output
