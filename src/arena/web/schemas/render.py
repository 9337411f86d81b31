"""POST /api/render: Markdown in, safe HTML out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RenderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: str = Field(max_length=2_000_000)


class RenderPublic(BaseModel):
    html: str
