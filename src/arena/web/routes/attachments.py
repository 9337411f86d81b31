"""Text files attached to a prompt, checked on the server before the browser sends them along."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from arena.evaluation.conversation.attachments import read_upload
from arena.web.deps import AppSettings, Evaluator
from arena.web.openapi import error_responses
from arena.web.schemas.attachments import AttachmentPublic

router = APIRouter(prefix="/api/attachments", tags=["attachments"], dependencies=[Evaluator])

ERRORS = error_responses(400, 413, 415, 422)
READ_CHUNK = 1024 * 1024


@router.post("", response_model=AttachmentPublic, responses=ERRORS)
async def create_attachment(
    file: Annotated[UploadFile, File(description="A UTF-8 text file")], settings: AppSettings
) -> AttachmentPublic:
    """Accept a text file (size, extension and UTF-8 checked) and give back its text."""
    limit = settings.max_upload_bytes
    data = bytearray()
    # Read at most one byte past the limit: enough to know the file is too large.
    while len(data) <= limit and (chunk := await file.read(min(READ_CHUNK, limit + 1 - len(data)))):
        data += chunk
    attachment = await asyncio.to_thread(
        read_upload, filename=file.filename or "", data=bytes(data), max_bytes=limit, size=file.size
    )
    return AttachmentPublic(filename=attachment.filename, size=attachment.size, text=attachment.text)
