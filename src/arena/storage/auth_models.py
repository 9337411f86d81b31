"""Accounts: users, their login sessions and API tokens, and conversations shared with them.

Secrets are never stored: a session cookie and an API token are kept as their SHA-256 (they are
long random strings, so a fast hash is enough), a password as its argon2id hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arena.storage.models import Base, _sql_list, utcnow

ROLES: Final[tuple[str, ...]] = ("admin", "evaluator", "viewer")
USERNAME_MAX_LENGTH: Final = 64
TOKEN_NAME_MAX_LENGTH: Final = 100


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_sql_list(ROLES)})", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # no hash in here
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class IdCounter(Base):
    """The last id handed out per table, so an id is never given twice: a removed user's id
    must never become a new account's, or the new account would inherit whatever still names
    the old one (SQLite reuses the largest rowid once its row is deleted)."""

    __tablename__ = "id_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)


class UserSession(Base):
    """A browser login. Deleting the row logs the cookie out everywhere, at once."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index(None, "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A token for scripts, shown once at creation."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class ConversationShare(Base):
    """The owner let this user read (and, as an evaluator, vote on and export) the conversation."""

    __tablename__ = "conversation_shares"
    __table_args__ = (Index(None, "user_id"),)

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
