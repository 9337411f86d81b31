"""The audit log: one append-only row per security-relevant or data-changing event.

Each row carries a hash of its own content and the hash of the row before it, so editing or
deleting a row breaks the chain (``storage.audit.verify`` finds where). The hash is an
HMAC-SHA256 under the audit key named by ``key_id`` (``storage.audit_key``), or, for rows
written before the log was keyed (``key_id`` null), a plain SHA-256. Ids are assigned by
``storage.audit.append`` as the previous id + 1, not by a sequence: a PostgreSQL sequence skips
numbers when a transaction rolls back, which would look like a deleted entry. The primary key
then also guarantees that two writers can never chain onto the same previous entry.

Declared on the same ``Base`` as ``models.py``; migration ``0005_audit`` creates the table,
migration 0008 adds ``key_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arena.storage.models import MODEL_ID_MAX_LENGTH, Base

ACTOR_MAX_LENGTH: Final = 64  # a username
ACTION_MAX_LENGTH: Final = 40
TARGET_MAX_LENGTH: Final = MODEL_ID_MAX_LENGTH  # the longest thing named: a model id
IP_MAX_LENGTH: Final = 64
HASH_LENGTH: Final = 64  # SHA-256 or HMAC-SHA256, hex
KEY_ID_LENGTH: Final = 8


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "action"), Index(None, "actor"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column()
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives removed users
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX_LENGTH))
    action: Mapped[str] = mapped_column(String(ACTION_MAX_LENGTH))
    target: Mapped[str | None] = mapped_column(String(TARGET_MAX_LENGTH))
    ip: Mapped[str | None] = mapped_column(String(IP_MAX_LENGTH))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH))  # null: unsigned, from before 0008

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id!r}, action={self.action!r}, actor={self.actor!r})"
