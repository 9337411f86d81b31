"""Migration 0025 (answers keep their host): responses gain a nullable host, backfilled from the
lease row of the process that streamed them where that row still exists; going back drops only
the column. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from arena.storage.db import Database

pytestmark = pytest.mark.timeout(120)

NOW = "2026-01-01 00:00:00"
INSTANCE = "ollama_tiny_1b__0.7_0.9_40_1.1_-1_0"


def test_answers_of_a_live_lease_get_its_host_and_the_others_none(blank_database: Database) -> None:
    command.upgrade(blank_database.alembic_config(), "0024")
    rows = [
        f"INSERT INTO instances (id, model, temperature, top_p, top_k, repeat_penalty, num_predict, seed, created_at) "
        f"VALUES ('{INSTANCE}', 'ollama:tiny_1b', 0.7, 0.9, 40, 1.1, -1, 0, '{NOW}')",
        f"INSERT INTO conversations (id, title, blind, created_at, updated_at) VALUES ('c', 't', false, '{NOW}', '{NOW}')",
        f"INSERT INTO turns (id, conversation_id, \"index\", user_text, created_at) VALUES (1, 'c', 0, 'hi', '{NOW}')",
        f"INSERT INTO server_processes (id, host, pid, started_at, heartbeat_at) VALUES ('p1', 'vm', 7, '{NOW}', '{NOW}')",
        *(
            f"INSERT INTO responses (id, turn_id, instance_id, status, text, started_at, finished_at, owner_process) "
            f"VALUES ({n}, 1, '{INSTANCE}', 'ok', 'a', '{NOW}', '{NOW}', {owner})"
            for n, owner in ((1, "'p1'"), (2, "'gone'"), (3, "NULL"))
        ),
    ]
    with blank_database.engine.begin() as connection:
        for row in rows:
            connection.execute(text(row))

    blank_database.migrate()

    with blank_database.engine.begin() as connection:
        hosts = connection.execute(text("SELECT id, host FROM responses ORDER BY id")).all()
    assert [tuple(r) for r in hosts] == [(1, "vm"), (2, None), (3, None)]
    config = blank_database.alembic_config()
    with blank_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0024")
    with blank_database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM responses")).scalar_one() == 3, "no answer lost going back"
