"""A conversation as a download (JSON, Markdown, CSV), and a JSON export back as a new one."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from arena.bounded_json import load_json
from arena.errors import InvalidInput
from arena.evaluation.conversation.export import export_csv, export_filename, export_json, export_markdown
from arena.evaluation.conversation.importing import import_conversation
from arena.evaluation.conversation.view import conversation_view
from arena.evaluation.judge.export import turn_verdicts
from arena.storage import audit
from arena.storage.models import utcnow
from arena.web.audit_events import record_event
from arena.web.auth.ownership import check_conversation
from arena.web.deps import AppSettings, CurrentPrincipal, Db, Evaluator, Viewer
from arena.web.openapi import error_responses
from arena.web.schemas.conversations import ConversationDetailPublic

router = APIRouter(prefix="/api/conversations", tags=["export and import"], dependencies=[Viewer])

ERRORS = error_responses(400, 404, 413, 422)
MEDIA_TYPES = {"json": "application/json", "markdown": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8"}
DOWNLOAD = {200: {"content": {media: {} for media in MEDIA_TYPES.values()}, "description": "The file"}}


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "description": "A JSON export of a conversation"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


@router.post(
    "/import",
    status_code=201,
    response_model=ConversationDetailPublic,
    responses=ERRORS,
    openapi_extra=IMPORT_BODY,
    dependencies=[Evaluator],
)
async def import_conversation_export(
    request: Request, db: Db, settings: AppSettings, principal: CurrentPrincipal
) -> ConversationDetailPublic:
    """Create a new conversation from a JSON export (the body, or a multipart field `file`)."""
    data = await _read_export(request)

    def write() -> ConversationDetailPublic:
        conversation_id = import_conversation(
            db,
            data=data,
            max_instances=settings.max_instances,
            max_attachment_bytes=settings.max_upload_bytes,
            max_turns=settings.max_import_turns,
            max_votes=settings.max_import_votes,
            owner_id=principal.user_id,
        )
        return ConversationDetailPublic.from_view(conversation_view(db, conversation_id=conversation_id))

    detail = await asyncio.to_thread(write)
    await record_event(request, audit.CONVERSATION_IMPORT, target=detail.id)
    return detail


async def _read_export(request: Request) -> Any:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("send the export as the body, or as a file in the multipart field `file`")
        raw = await upload.read()
    else:
        raw = await request.body()
    return load_json(raw, what="the export")  # an uploaded file is bounded as a body is


@router.get("/{conversation_id}/export", response_class=Response, responses={**ERRORS, **DOWNLOAD})
async def export_conversation(
    conversation_id: str,
    request: Request,
    db: Db,
    principal: CurrentPrincipal,
    format: Literal["json", "markdown", "csv"] = Query("json"),
) -> Response:
    """Download a conversation with the judge's verdicts on its turns; labels only while it is blind
    and not revealed (`_blind` in the name)."""
    await check_conversation(db, principal, conversation_id, need="read")
    view = await asyncio.to_thread(conversation_view, db, conversation_id=conversation_id)
    verdicts = await asyncio.to_thread(turn_verdicts, db, conversation_id=conversation_id)
    now = utcnow()
    if format == "json":
        body = json.dumps(export_json(view, exported_at=now, verdicts=verdicts), ensure_ascii=False, indent=2) + "\n"
    elif format == "csv":
        body = export_csv(view, verdicts=verdicts)
    else:
        body = export_markdown(view, exported_at=now, verdicts=verdicts)
    filename = export_filename(view, format)
    await record_event(request, audit.CONVERSATION_EXPORT, target=conversation_id, format=format)
    return Response(
        body.encode("utf-8"),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
