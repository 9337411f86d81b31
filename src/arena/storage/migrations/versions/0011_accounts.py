"""One account per name, API tokens that end, and failed logins counted in the database.

- ``users.username_key``: the name as compared (NFKC, casefolded), unique, so "EVA" and "eva"
  are one account. Names that already collide are not refused (that would stop every command,
  `arena user` included): the older account keeps its name, each later one is renamed to
  ``<name>-<id>``, and each rename is printed so an admin can tell those users.
- ``api_tokens.expires_at``: tokens made before this end 90 days after the upgrade.
- ``login_attempts``: the login throttle's counts, so `arena user unlock` can clear them.

Columns are added with a placeholder default and filled, not by rebuilding the tables: SQLite
rebuilds by dropping, and with foreign keys on that would delete every session and token.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERNAME_MAX_LENGTH = 64
TOKEN_DAYS_AT_UPGRADE = 90


def _key(username: str) -> str:
    # A copy of arena.storage.accounts.username_key: migrations do not import app code.
    return unicodedata.normalize("NFKC", username).casefold()


def _fill_username_keys(connection: sa.Connection) -> None:
    rows = connection.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all()
    taken = {_key(name) for _, name in rows}
    seen: set[str] = set()
    for user_id, name in rows:
        key = _key(name)
        if key in seen:  # a later account with an earlier one's name, in another case
            suffix = f"-{user_id}"
            new_name = name[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
            while _key(new_name) in taken:
                suffix += "x"
                new_name = name[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
            print(
                f"arena: usernames must differ by more than case: user {name!r} (id {user_id}) "
                f"is now {new_name!r}; tell them, or rename them with `arena user` commands",
                file=sys.stderr,
            )
            name, key = new_name, _key(new_name)
            taken.add(key)
        seen.add(key)
        connection.execute(
            sa.text("UPDATE users SET username = :name, username_key = :key WHERE id = :id"),
            {"name": name, "key": key, "id": user_id},
        )


def upgrade() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"

    op.add_column(
        "users",
        sa.Column("username_key", sa.String(length=USERNAME_MAX_LENGTH), nullable=False, server_default=""),
    )
    _fill_username_keys(connection)
    op.create_index(op.f("ix_users_username_key"), "users", ["username_key"], unique=True)

    op.add_column(
        "api_tokens",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, server_default="1970-01-01 00:00:00"),
    )
    if sqlite:
        op.execute(f"UPDATE api_tokens SET expires_at = datetime('now', '+{TOKEN_DAYS_AT_UPGRADE} days')")
    else:
        op.execute(f"UPDATE api_tokens SET expires_at = now() + interval '{TOKEN_DAYS_AT_UPGRADE} days'")
        # The placeholders were only there to add the columns to filled tables.
        op.alter_column("users", "username_key", server_default=None)
        op.alter_column("api_tokens", "expires_at", server_default=None)

    op.create_table(
        "login_attempts",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('pair', 'account', 'address')", name=op.f("ck_login_attempts_kind")),
        sa.PrimaryKeyConstraint("kind", "account", "address", name=op.f("pk_login_attempts")),
    )
    op.create_index(op.f("ix_login_attempts_account"), "login_attempts", ["account"])
    op.create_index(op.f("ix_login_attempts_last_failure_at"), "login_attempts", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_attempts_last_failure_at"), table_name="login_attempts")
    op.drop_index(op.f("ix_login_attempts_account"), table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_column("api_tokens", "expires_at")
    op.drop_index(op.f("ix_users_username_key"), table_name="users")
    op.drop_column("users", "username_key")
