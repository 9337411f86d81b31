"""Accounts: users, their login sessions and API tokens, and conversations shared with them.

Secrets are never stored: a session cookie and an API token are kept as their SHA-256 (they are
long random strings, so a fast hash is enough), a password as its argon2id hash. Failed logins
are counted here too (`LoginAttempt`), so `arena user unlock` reaches what the server counts.
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
# A typed login name may be anything up to the schema's length; its normalised form can grow
# (NFKC), so the throttle keeps this much of it.
ATTEMPT_ACCOUNT_LENGTH: Final = 128
ATTEMPT_ADDRESS_LENGTH: Final = 64
ATTEMPT_KINDS: Final[tuple[str, ...]] = ("pair", "account", "address")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({_sql_list(ROLES)})", name="role"),
        Index(None, "username_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH), unique=True)
    # The name as compared (NFKC, casefolded): "EVA" and "eva" are one account.
    username_key: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH))
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
    """A token for scripts, shown once at creation. It ends at `expires_at`, and is deleted when
    its user's password or role changes or the user is removed."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class ConversationShare(Base):
    """The owner let this user read (and, as an evaluator, vote on and export) the conversation."""

    __tablename__ = "conversation_shares"
    __table_args__ = (Index(None, "user_id"),)

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginAttempt(Base):
    """Failed logins counted for one (account, address) pair, one account or one address.

    `account` is the typed name, normalised, whether or not such a user exists (so the answers
    never tell which names are real); it is "" for an address row, as `address` is for an
    account row. A pair row that logged in keeps `known_until`: from a known address the
    account-wide slow-down does not apply, so guessing from elsewhere cannot keep the owner out.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(ATTEMPT_KINDS)})", name="kind"),
        Index(None, "account"),
        Index(None, "last_failure_at"),
    )

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    account: Mapped[str] = mapped_column(String(ATTEMPT_ACCOUNT_LENGTH), primary_key=True)
    address: Mapped[str] = mapped_column(String(ATTEMPT_ADDRESS_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    blocked_until: Mapped[datetime | None] = mapped_column()
    known_until: Mapped[datetime | None] = mapped_column()
