"""Migration 0013 (imports are data): conversations rebuilt from an export are marked imported,
in place, without losing a turn. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from arena.storage.db import Database

NOW = "2026-01-01 00:00:00"
INSTANCE = "ollama_tiny_1b__0.7_0.9_40_1.1_-1_0"


def test_imports_named_by_the_audit_log_or_holding_restored_votes_are_marked(blank_database: Database) -> None:
    command.upgrade(blank_database.alembic_config(), "0012")
    rows = [
        f"INSERT INTO instances (id, model, temperature, top_p, top_k, repeat_penalty, num_predict, seed, created_at) "
        f"VALUES ('{INSTANCE}', 'ollama:tiny_1b', 0.7, 0.9, 40, 1.1, -1, 0, '{NOW}')",
        *(
            f"INSERT INTO conversations (id, title, blind, created_at, updated_at) VALUES ('{c}', 't', false, '{NOW}', '{NOW}')"
            for c in ("audited", "restored", "chat")
        ),
        *(
            f"INSERT INTO turns (id, conversation_id, \"index\", user_text, created_at) VALUES ({n}, '{c}', 0, 'hi', '{NOW}')"
            for n, c in enumerate(("audited", "restored", "chat"), start=1)
        ),
        f"INSERT INTO responses (id, turn_id, instance_id, status, text, started_at, finished_at) "
        f"VALUES (1, 2, '{INSTANCE}', 'ok', 'a', '{NOW}', '{NOW}')",
        f"INSERT INTO votes (conversation_id, turn_id, kind, value, response_id, imported, created_at) "
        f"VALUES ('restored', 2, 'thumb', 'up', 1, true, '{NOW}')",
        f"INSERT INTO audit_log (id, created_at, actor, action, target, detail, prev_hash, hash) "
        f"VALUES (1, '{NOW}', 'local', 'conversation.import', 'audited', '{{}}', '', '')",
    ]
    with blank_database.engine.begin() as connection:
        for row in rows:
            connection.execute(text(row))

    blank_database.migrate()

    with blank_database.engine.connect() as connection:
        marked = dict(connection.execute(text("SELECT id, imported FROM conversations")).all())
        assert {c: bool(flag) for c, flag in marked.items()} == {"audited": True, "restored": True, "chat": False}
        assert connection.execute(text("SELECT count(*) FROM turns")).scalar_one() == 3, "no turn lost"

    config = blank_database.alembic_config()
    with blank_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
    with blank_database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM turns")).scalar_one() == 3, "none lost going back"
        assert connection.execute(text("SELECT count(*) FROM votes")).scalar_one() == 1
