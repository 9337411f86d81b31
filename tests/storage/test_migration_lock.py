"""Processes that start together on one new database all come up: one migrates, the others
wait for it (the workers of `arena serve --workers N`, several hosts on one PostgreSQL).
Without the lock, 1 in 3 SQLite and 2 in 3 PostgreSQL starts failed on the migration race."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from arena.storage.db import Database

PROCESSES = 4
MIGRATE = "import sys; from arena.storage.db import Database; Database(url=sys.argv[1]).migrate()"


@pytest.mark.timeout(120)
def test_processes_migrating_one_new_database_at_once_all_succeed(blank_database: Database) -> None:
    url = blank_database.url.render_as_string(hide_password=False)
    children = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, url], stderr=subprocess.PIPE) for _ in range(PROCESSES)
    ]
    failures = [child.stderr.read().decode()[-2000:] for child in children if child.wait(timeout=100) != 0]  # type: ignore[union-attr]
    assert failures == []
    tables = set(inspect(blank_database.engine).get_table_names())
    assert {"alembic_version", "conversations", "responses", "server_processes"} <= tables
    with blank_database.engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    assert len(versions) == 1  # one head, written once
