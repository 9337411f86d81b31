"""/api/audit: pages of audit entries, and the verdict on the hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryPublic(BaseModel):
    id: int = Field(description="Position in the chain, from 1, without gaps")
    created_at: datetime
    actor_id: int | None = Field(description="The account's id; null for the local user or an unknown one")
    actor: str = Field(description="Username, 'local' without accounts, or the name typed at a failed login")
    action: str = Field(description="What happened, e.g. login.failure or conversation.delete")
    target: str | None = Field(description="What it happened to: a conversation id, a username, a model")
    ip: str | None = Field(description="The client's address")
    detail: dict[str, Any]
    prev_hash: str = Field(description="The previous entry's hash (64 zeros for the first)")
    hash: str = Field(description="SHA-256 of this entry's content, prev_hash included")


# Named before the naming rule, and kept: tests/api/test_audit_api.py asserts the name.
class AuditPageOut(BaseModel):
    entries: list[AuditEntryPublic] = Field(description="Newest first")
    next_before_id: int | None = Field(description="Pass as before_id for older entries; null when there are none")


class AuditVerificationPublic(BaseModel):
    ok: bool
    entries: int = Field(description="Entries checked: all of them when ok, those before the damage otherwise")
    last_id: int | None = Field(description="The newest intact entry; note it with last_hash to notice a cut-off tail")
    last_hash: str | None
    bad_id: int | None = Field(description="The first entry found edited, replaced or after a deletion")
    problem: str | None
    message: str
