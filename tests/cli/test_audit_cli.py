"""`arena audit verify | export` as an admin (or a cron job) runs them, against a log someone
edited behind the arena's back with plain SQL."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.storage import audit
from arena.storage.db import Database

runner = CliRunner()
ENV = {"COLUMNS": "200"}


@pytest.fixture
def data_dir(isolated_environment: Path) -> Path:
    """The data directory the CLI reads (ARENA_DATA_DIR), with a log of four entries."""
    database = Database(
        url=f"sqlite:///{isolated_environment / 'arena.db'}", audit_key_file=isolated_environment / "audit.key"
    )
    try:
        database.migrate()
        for number in range(4):
            audit.record(database, actor_id=1, actor="alice", action=audit.VOTE, target=f"c{number}", ip="127.0.0.1")
    finally:
        database.dispose()
    return isolated_environment


def raw_sql(data_dir: Path, sql: str) -> None:
    with sqlite3.connect(data_dir / "arena.db") as connection:
        connection.execute(sql)


def one_line(output: str) -> str:
    return " ".join(output.split())


def test_an_intact_log_verifies_with_exit_0_and_prints_a_checkpoint(data_dir: Path) -> None:
    result = runner.invoke(app, ["audit", "verify"], env=ENV)

    assert result.exit_code == 0, result.output
    assert "audit log intact: 4 entries" in result.output
    checkpoint = one_line(result.output).split("checkpoint: ")[1].split()[0]
    again = runner.invoke(app, ["audit", "verify", "--checkpoint", checkpoint], env=ENV)
    assert again.exit_code == 0, again.output


def test_a_row_edited_with_raw_sql_fails_verify_naming_it(data_dir: Path) -> None:
    raw_sql(data_dir, "UPDATE audit_log SET actor = 'bob' WHERE id = 3")

    result = runner.invoke(app, ["audit", "verify"], env=ENV)

    assert result.exit_code == 1
    assert "audit log damaged: entry 3 was edited" in one_line(result.output)


def test_a_row_deleted_with_raw_sql_fails_verify_naming_it(data_dir: Path) -> None:
    raw_sql(data_dir, "DELETE FROM audit_log WHERE id = 2")

    result = runner.invoke(app, ["audit", "verify"], env=ENV)

    assert result.exit_code == 1
    assert "entry 2 deleted: the ids jump from 1 to 3" in one_line(result.output)


def test_a_cut_off_tail_fails_verify_against_a_checkpoint(data_dir: Path) -> None:
    printed = runner.invoke(app, ["audit", "verify"], env=ENV).output
    checkpoint = one_line(printed).split("checkpoint: ")[1].split()[0]
    raw_sql(data_dir, "DELETE FROM audit_log WHERE id = 4")

    assert runner.invoke(app, ["audit", "verify"], env=ENV).exit_code == 0
    result = runner.invoke(app, ["audit", "verify", "--checkpoint", checkpoint], env=ENV)
    assert result.exit_code == 1
    assert "entry 4 from your checkpoint is gone" in one_line(result.output)


def test_a_malformed_checkpoint_is_a_usage_error(data_dir: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--checkpoint", "4:nothex"], env=ENV)

    assert result.exit_code == 2
    assert "expected ID:HASH" in one_line(result.output)


def test_export_writes_jsonl_to_a_file_and_records_itself(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "audit.jsonl"

    result = runner.invoke(app, ["audit", "export", "--output", str(target)], env=ENV)

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5]
    assert (rows[-1]["action"], rows[-1]["detail"]) == ("audit.export", {"format": "jsonl", "via": "cli"})
    assert not list(tmp_path.glob(".*.partial"))
    assert runner.invoke(app, ["audit", "verify"], env=ENV).exit_code == 0


def test_export_csv_goes_to_standard_output(data_dir: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "--format", "csv"], env=ENV)

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["target"] for row in rows[:4]] == ["c0", "c1", "c2", "c3"]
    assert rows[-1]["action"] == "audit.export"


def test_export_into_a_missing_folder_fails_cleanly(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "--output", str(tmp_path / "missing" / "a.jsonl")], env=ENV)

    assert result.exit_code == 2
    assert "cannot write" in one_line(result.output)


# --- finding 15: someone with write access to the database, but not the audit key -----------


def exported_rows(tmp_path: Path) -> list[dict]:
    target = tmp_path / "export.jsonl"
    assert runner.invoke(app, ["audit", "export", "-o", str(target)], env=ENV).exit_code == 0
    return [json.loads(line) for line in target.read_text().splitlines()]


def rewrite_without_the_key(data_dir: Path, rows: list[dict], *, edit: int, unsign: bool) -> None:
    """Edit entry ``edit``, then recompute its hash and every later one as a plain SHA-256 of the
    exported content, as an unkeyed log was checked (``unsign``: also mark them unsigned)."""
    with sqlite3.connect(data_dir / "arena.db") as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(audit_log)")}
        previous = rows[edit - 2]["hash"] if edit > 1 else "0" * 64
        for row in rows[edit - 1 :]:
            if row["id"] == edit:
                row["actor"] = "mallory"
            row["prev_hash"] = previous
            if unsign:
                row.pop("key_id", None)
            content = {key: value for key, value in row.items() if key != "hash"}
            canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            row["hash"] = previous = hashlib.sha256(canonical.encode()).hexdigest()
            connection.execute(
                "UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (row["actor"], row["prev_hash"], row["hash"], row["id"]),
            )
            if unsign and "key_id" in columns:
                connection.execute("UPDATE audit_log SET key_id = NULL WHERE id = ?", (row["id"],))


@pytest.mark.parametrize(
    ("edit", "unsign", "found"),
    [
        (2, False, "entry 2 was edited: its content no longer matches its signature"),
        (2, True, "entry 2 is unsigned, but the log is signed from entry 1 on"),
        (1, True, "no entry is signed, though an audit key exists"),
    ],
)
def test_an_entry_edited_with_every_later_hash_recomputed_fails_verify(
    isolated_environment: Path, tmp_path: Path, edit: int, unsign: bool, found: str
) -> None:
    for _ in range(3):  # each export is an audit entry, written the way the arena writes them
        exported_rows(tmp_path)
    rows = exported_rows(tmp_path)[:4]

    rewrite_without_the_key(isolated_environment, rows, edit=edit, unsign=unsign)
    result = runner.invoke(app, ["audit", "verify"], env=ENV)

    assert result.exit_code == 1, result.output
    assert found in one_line(result.output)


def test_verify_without_the_key_file_checks_only_the_unsigned_part_and_says_so(data_dir: Path) -> None:
    (data_dir / "audit.key").rename(data_dir / "elsewhere.key")

    result = runner.invoke(app, ["audit", "verify"], env=ENV)

    assert result.exit_code == 2, result.output
    assert "the 4 signed entries after them need the audit key" in one_line(result.output)
    assert f"no audit key file at {data_dir / 'audit.key'}" in one_line(result.output)
    assert not (data_dir / "audit.key").exists(), "verify never makes a key"


def test_verify_with_another_key_file_fails_naming_both_keys(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_text(base64.urlsafe_b64encode(b"o" * 32).decode() + "\n")
    other.chmod(0o600)

    result = runner.invoke(app, ["audit", "verify"], env={**ENV, "ARENA_AUDIT_KEY_FILE": str(other)})

    assert result.exit_code == 1, result.output
    assert "entry 1 is signed with audit key" in one_line(result.output)
    assert f"but the key in {other} is" in one_line(result.output)


def test_an_export_file_is_readable_by_its_owner_only(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "audit.csv"

    assert runner.invoke(app, ["audit", "export", "--format", "csv", "-o", str(target)], env=ENV).exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
