"""Migration 0023 (vote categories): votes gain a nullable category, existing votes keep theirs as
NULL, and going back drops only the column. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from arena.storage.db import Database

pytestmark = pytest.mark.timeout(120)

NOW = "2026-01-01 00:00:00"
INSTANCE = "ollama_tiny_1b__0.7_0.9_40_1.1_-1_0"


def test_existing_votes_get_no_category_and_new_ones_keep_theirs(blank_database: Database) -> None:
    command.upgrade(blank_database.alembic_config(), "0022")
    rows = [
        f"INSERT INTO instances (id, model, temperature, top_p, top_k, repeat_penalty, num_predict, seed, created_at) "
        f"VALUES ('{INSTANCE}', 'ollama:tiny_1b', 0.7, 0.9, 40, 1.1, -1, 0, '{NOW}')",
        f"INSERT INTO conversations (id, title, blind, created_at, updated_at) VALUES ('c', 't', false, '{NOW}', '{NOW}')",
        f"INSERT INTO turns (id, conversation_id, \"index\", user_text, created_at) VALUES (1, 'c', 0, 'hi', '{NOW}')",
        f"INSERT INTO responses (id, turn_id, instance_id, status, text, started_at, finished_at) "
        f"VALUES (1, 1, '{INSTANCE}', 'ok', 'a', '{NOW}', '{NOW}')",
        f"INSERT INTO votes (conversation_id, turn_id, kind, value, response_id, imported, created_at) "
        f"VALUES ('c', 1, 'thumb', 'up', 1, false, '{NOW}')",
    ]
    with blank_database.engine.begin() as connection:
        for row in rows:
            connection.execute(text(row))

    blank_database.migrate()

    with blank_database.engine.begin() as connection:
        assert connection.execute(text("SELECT category FROM votes")).scalar_one() is None
        connection.execute(
            text(
                "INSERT INTO votes (conversation_id, turn_id, kind, value, response_id, imported, created_at, category) "
                f"VALUES ('c', 1, 'thumb', 'down', 1, false, '{NOW}', '{'c' * 100}')"
            )
        )
    config = blank_database.alembic_config()
    with blank_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0022")
    with blank_database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM votes")).scalar_one() == 2, "no vote lost going back"
