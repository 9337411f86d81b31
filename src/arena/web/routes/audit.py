"""The audit log for admins: GET /api/audit (pages of entries), /api/audit/export (a download),
/api/audit/verify (is the chain intact?). The page GET /audit (routes/pages.py) shows all three."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from arena.storage.audit_export import MEDIA_TYPES, ExportFormat, export_lines, filename
from arena.storage import audit
from arena.storage.audit_models import ACTION_MAX_LENGTH, ACTOR_MAX_LENGTH, AuditEntry
from arena.storage.models import utcnow
from arena.web.audit import record_event
from arena.web.auth.principal import Admin
from arena.web.deps import Db
from arena.web.schemas import MAX_ID, error_responses

api_router = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Admin])

ERRORS = error_responses(401, 403, 422)


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


class AuditPageOut(BaseModel):
    entries: list[AuditEntryPublic] = Field(description="Newest first")
    next_before_id: int | None = Field(description="Pass as before_id for older entries; null when there are none")


class VerifyOut(BaseModel):
    ok: bool
    entries: int = Field(description="Entries checked: all of them when ok, those before the damage otherwise")
    last_id: int | None = Field(description="The newest intact entry; note it with last_hash to notice a cut-off tail")
    last_hash: str | None
    bad_id: int | None = Field(description="The first entry found edited, replaced or after a deletion")
    problem: str | None
    message: str


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        id=entry.id,
        created_at=entry.created_at,
        actor_id=entry.actor_id,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        ip=entry.ip,
        detail=entry.detail,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


@api_router.get("", response_model=AuditPageOut, responses=ERRORS)
async def list_audit(
    db: Db,
    limit: int = Query(100, ge=1, le=500, description="Entries per page"),
    before_id: int | None = Query(None, ge=1, le=MAX_ID, description="Only entries older than this id"),
    action: str | None = Query(
        None, min_length=1, max_length=ACTION_MAX_LENGTH, description="An action, or its group: 'user' finds user.*"
    ),
    actor: str | None = Query(None, min_length=1, max_length=ACTOR_MAX_LENGTH, description="Exactly this username"),
) -> AuditPageOut:
    """Audit entries, newest first, a page at a time."""

    def read() -> AuditPageOut:
        with db.session() as session:
            page = audit.list_entries(session, limit=limit, before_id=before_id, action=action, actor=actor)
        return AuditPageOut(entries=[_public(entry) for entry in page.entries], next_before_id=page.next_before_id)

    return await asyncio.to_thread(read)


@api_router.get(
    "/export",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
async def export_audit(
    request: Request,
    db: Db,
    fmt: ExportFormat = Query("jsonl", alias="format", description="jsonl (verifiable) or csv"),
) -> StreamingResponse:
    """The whole log as a download, oldest first; the export is itself recorded (and included)."""
    await record_event(request, audit.AUDIT_EXPORT, format=fmt)
    return StreamingResponse(
        export_lines(db, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename(fmt, utcnow())}"'},
    )


@api_router.get("/verify", response_model=VerifyOut, responses=ERRORS)
async def verify_audit(db: Db) -> VerifyOut:
    """Walk the hash chain and name the first edited, replaced or deleted entry."""

    def check() -> audit.VerifyResult:
        with db.session() as session:
            return audit.verify(session)

    result = await asyncio.to_thread(check)
    return VerifyOut(
        ok=result.ok,
        entries=result.entries,
        last_id=result.last_id,
        last_hash=result.last_hash,
        bad_id=result.bad_id,
        problem=result.problem,
        message=result.message,
    )


router = api_router  # the name app.py includes, as for every other route module
