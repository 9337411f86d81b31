"""An in-process engine that answers with XSS payloads (tests/support/xss_payloads.py), so they
reach the page the real way: streamed as text into the cards, then rendered by the server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from arena.engines.base import Chunk, GenerationRequest, Usage
from arena.errors import EngineRejected
from tests.support.doubles.scripted_engine import Script, ScriptedEngine
from tests.support.xss_payloads import Payload

BATCH_TAG = re.compile(r"^batch (\d+):")


class PayloadEngine(ScriptedEngine):
    """A test engine: `xss-echo` answers with the payload batch its prompt names ("batch <n>:" first),
    then echoes the message it was sent (with the attached files); `xss-fails` refuses with the payloads
    as its error."""

    def __init__(self, batches: list[list[Payload]]) -> None:
        super().__init__({"xss-echo": Script(), "xss-fails": Script()})  # only the names: stream() answers
        self.batches = batches

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        message = request.messages[-1].content
        tag = BATCH_TAG.match(message)
        batch = self.batches[int(tag.group(1))] if tag else []
        if request.model == "xss-fails":
            raise EngineRejected(" ".join(payload.text for payload in batch))
        pieces = [payload.text + "\n\n" for payload in batch] + ["---\n\n", message]
        for piece in pieces:
            await asyncio.sleep(0)  # one chunk at a time, as a model streams
            yield Chunk(text=piece)
        usage = Usage(prompt_tokens=len(message.split()), completion_tokens=len(pieces))
        yield Chunk(usage=usage, finish_reason="stop")
