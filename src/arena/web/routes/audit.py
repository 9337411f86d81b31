"""The audit log for admins: GET /api/audit (pages of entries), /api/audit/export (a download),
/api/audit/verify (is the chain intact?). The page GET /audit (routes/pages.py) shows all three."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from arena.storage import audit
from arena.storage.audit_export import MEDIA_TYPES, ExportFormat, export_lines, filename
from arena.storage.audit_models import ACTION_MAX_LENGTH, ACTOR_MAX_LENGTH, AuditEntry
from arena.storage.models import utcnow
from arena.web.audit_events import record_event
from arena.web.deps import Admin, Db
from arena.web.observability.hooks import observe_audit_verified
from arena.web.openapi import error_responses
from arena.web.schemas.audit import AuditEntryPublic, AuditPageOut, AuditVerificationPublic
from arena.web.schemas.common import MAX_ID

router = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Admin])

ERRORS = error_responses(401, 403, 422)


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


@router.get("", response_model=AuditPageOut, responses=ERRORS)
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


@router.get(
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


@router.get("/verify", response_model=AuditVerificationPublic, responses=ERRORS)
async def verify_audit(request: Request, db: Db) -> AuditVerificationPublic:
    """Walk the hash chain and name the first edited, replaced or deleted entry (a broken chain
    also raises the alert abuse.audit_chain_broken)."""

    def check() -> audit.VerifyResult:
        with db.session() as session:
            return audit.verify(session)

    result = await asyncio.to_thread(check)
    await observe_audit_verified(request, ok=result.ok, bad_id=result.bad_id, problem=result.problem)
    return AuditVerificationPublic(
        ok=result.ok,
        entries=result.entries,
        last_id=result.last_id,
        last_hash=result.last_hash,
        bad_id=result.bad_id,
        problem=result.problem,
        message=result.message,
    )


