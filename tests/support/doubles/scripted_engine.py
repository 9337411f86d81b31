"""An in-process `Engine` that answers from a script: for core tests with no server and no model.

    engine = ScriptedEngine({"fast": Script(tokens=["Hi", "!"]), "stuck": Script(tokens=["Hm"], hold=True)})
    router = Router(engines=[engine])  # model ids are "ollama:fast", "ollama:stuck"

Like simonw/llm's mock model: the engine records every request it got, and which streams
were closed, so a test can see what each instance was sent and that a stop reached it.
`CountingEngine` is one that also counts the streams open at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, Usage


@dataclass(frozen=True, kw_only=True)
class Script:
    """What one model does: stream `tokens`, then raise `fail`, or wait for ever (`hold`), or finish."""

    tokens: list[str] = field(default_factory=list)
    fail: BaseException | None = None
    hold: bool = False
    prompt_tokens: int = 5


class ScriptedEngine(Engine):
    kind = "ollama"

    def __init__(self, scripts: dict[str, Script]) -> None:
        super().__init__(endpoint="scripted")
        self.scripts = scripts
        self.requests: list[GenerationRequest] = []
        self.closed: list[str] = []  # model names whose stream ended, in order

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(id=f"ollama:{name}", engine="ollama", name=name) for name in self.scripts]

    async def health(self) -> EngineHealth:
        return EngineHealth(engine="ollama", endpoint=self.endpoint, reachable=True, version="scripted")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        script = self.scripts[request.model]
        self.requests.append(request)
        try:
            for token in script.tokens:
                await asyncio.sleep(0)  # let the other instances interleave
                yield Chunk(text=token)
            if script.fail is not None:
                raise script.fail
            if script.hold:
                await asyncio.Event().wait()  # until the consumer stops this stream

            usage = Usage(prompt_tokens=script.prompt_tokens, completion_tokens=len(script.tokens))
            yield Chunk(usage=usage, finish_reason="stop")
        finally:
            self.closed.append(request.model)


class CountingEngine(ScriptedEngine):
    """Models `a`, `b` and `c`, each answering "answer" after a short wait; counts the streams open at once."""

    def __init__(self) -> None:
        super().__init__({name: Script(tokens=["answer"], prompt_tokens=3) for name in "abc"})
        self.open = 0
        self.peak = 0

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await asyncio.sleep(0.03)  # long enough for the runner to open every stream it may
            async for chunk in super().stream(request):
                yield chunk
        finally:
            self.open -= 1
