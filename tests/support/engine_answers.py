"""Reading an engine's answer whole, in engine tests."""

from __future__ import annotations

from arena.engines.base import Chunk, Engine, GenerationRequest


async def collect(engine: Engine, request: GenerationRequest) -> tuple[str, Chunk]:
    """The answer's text and its final chunk (which carries the usage)."""
    parts, last = [], None
    async for chunk in engine.stream(request):
        parts.append(chunk.text)
        last = chunk
    assert last is not None and last.usage is not None
    return "".join(parts), last
