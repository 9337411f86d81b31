"""An attachment's three shapes: sent with a chat message, given back by the upload check,
and listed with a stored turn."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


# A text file appended to the message (part of `ChatCreate`).
class AttachmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=1000)
    text: str


# An uploaded file, checked: POST /api/attachments.
class AttachmentPublic(BaseModel):
    filename: str
    size: int = Field(description="Bytes")
    text: str


# A stored turn's attachment: its name and size, not its text.
class AttachmentMetaPublic(BaseModel):
    filename: str
    size: int
