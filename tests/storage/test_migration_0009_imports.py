"""Migration 0009 (imports): squattable instance ids are re-keyed with everything naming them,
and votes restored by earlier imports are marked imported. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from arena.engines.base import SamplingOptions
from arena.evaluation.conversation.instances import instance_id
from arena.storage.db import Database

SETTINGS = "0.7, 0.9, 40, 1.1, -1, 0"
NOW = "2026-01-01 00:00:00"


def test_old_ids_that_fold_two_models_are_rekeyed_and_imported_votes_marked(blank_database: Database) -> None:
    command.upgrade(blank_database.alembic_config(), "0007")
    squat_old = "ollama_tiny_1b__0.7_0.9_40_1.1_-1_0"  # what "ollama:tiny_1b" was stored under
    plain = "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"
    rows = [
        f"INSERT INTO instances (id, model, temperature, top_p, top_k, repeat_penalty, num_predict, seed, created_at) VALUES ('{squat_old}', 'ollama:tiny_1b', {SETTINGS}, '{NOW}')",
        f"INSERT INTO instances (id, model, temperature, top_p, top_k, repeat_penalty, num_predict, seed, created_at) VALUES ('{plain}', 'ollama:llama3.2:1b', {SETTINGS}, '{NOW}')",
        f"INSERT INTO conversations (id, title, blind, created_at, updated_at) VALUES ('c1', 't', false, '{NOW}', '{NOW}')",
        f"INSERT INTO conversation_instances (conversation_id, instance_id, position, blind_label) VALUES ('c1', '{squat_old}', 0, 'Model A')",
        f"INSERT INTO conversation_instances (conversation_id, instance_id, position, blind_label) VALUES ('c1', '{plain}', 1, 'Model B')",
        f"INSERT INTO turns (id, conversation_id, \"index\", user_text, created_at) VALUES (1, 'c1', 0, 'hi', '{NOW}')",
        f"INSERT INTO votes (conversation_id, turn_id, kind, value, instance_a, instance_b, voter_id, created_at) "
        f"VALUES ('c1', 1, 'pairwise', 'A', '{squat_old}', '{plain}', NULL, '{NOW}')",
        f"INSERT INTO audit_log (id, created_at, actor, action, target, detail, prev_hash, hash) "
        f"VALUES (1, '{NOW}', 'local', 'conversation.import', 'c1', '{{}}', '', '')",
    ]
    with blank_database.engine.begin() as connection:
        for row in rows:
            connection.execute(text(row))

    blank_database.migrate()

    new = instance_id("ollama:tiny_1b", SamplingOptions())
    assert new != squat_old and "~" in new
    with blank_database.engine.connect() as connection:
        ids = dict(connection.execute(text("SELECT model, id FROM instances")).all())
        assert ids == {"ollama:tiny_1b": new, "ollama:llama3.2:1b": plain}  # a plain id is unchanged
        members = connection.execute(text("SELECT instance_id FROM conversation_instances ORDER BY position")).all()
        assert [m[0] for m in members] == [new, plain]
        vote = connection.execute(text("SELECT instance_a, instance_b, imported FROM votes")).one()
        assert (vote[0], vote[1], bool(vote[2])) == (new, plain, True)
