"""Migration 0011 (accounts) on a database that already has users and tokens: names that differ
only in case are reported and renamed (not refused: that would stop every command), nothing
else is lost, and from then on the database itself refuses a second account per name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from arena.storage.db import Database

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("username", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("role", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
sessions = sa.table(
    "user_sessions",
    sa.column("token_hash", sa.String()),
    sa.column("user_id", sa.Integer()),
    sa.column("csrf_token", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
)
tokens = sa.table(
    "api_tokens",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("token_hash", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def test_names_that_differ_only_in_case_are_renamed_and_reported(
    blank_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    config = blank_database.alembic_config()
    with blank_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        for user_id, name in enumerate(["eva", "EVA", "bob", "Eva"], start=1):
            connection.execute(
                users.insert().values(id=user_id, username=name, password_hash="x", role="evaluator", created_at=NOW)
            )
        connection.execute(
            sessions.insert().values(token_hash="s" * 64, user_id=3, csrf_token="c", created_at=NOW, last_seen_at=NOW)
        )
        connection.execute(
            tokens.insert().values(id=1, user_id=3, name="nightly", token_hash="t" * 64, created_at=NOW)
        )

    blank_database.migrate()

    with blank_database.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, username, username_key FROM users ORDER BY id")).all()
        kept_sessions = connection.execute(sa.text("SELECT count(*) FROM user_sessions")).scalar()
        expires_column = sa.column("expires_at", sa.DateTime())
        expires_at = connection.execute(sa.select(expires_column).select_from(sa.table("api_tokens"))).scalar()
    assert [tuple(row) for row in rows] == [
        (1, "eva", "eva"),  # the oldest keeps its name
        (2, "EVA-2", "eva-2"),
        (3, "bob", "bob"),
        (4, "Eva-4", "eva-4"),
    ]
    reported = capsys.readouterr().err
    assert "user 'EVA' (id 2) is now 'EVA-2'" in reported and "user 'Eva' (id 4) is now 'Eva-4'" in reported
    assert kept_sessions == 1  # the columns were added in place: no rebuild cascaded into them
    assert expires_at is not None
    expires = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(hours=1)

    with pytest.raises(IntegrityError), blank_database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, username, username_key, password_hash, role, created_at) "
                "VALUES (9, 'BOB', 'bob', 'x', 'viewer', CURRENT_TIMESTAMP)"
            )
        )
