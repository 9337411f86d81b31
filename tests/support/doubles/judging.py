"""The Ollama double with a judge model installed, answering judge requests by a rule the test sets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.support.doubles.ollama import DEFAULT_MODELS, DoubleModel, OllamaDouble

JUDGE = "ollama:judge:7b"


class JudgingOllama(OllamaDouble):
    """The Ollama double, answering a judge's request (one with a `format`) by `decide(prompt)`."""

    def __init__(self) -> None:
        super().__init__(models=[*DEFAULT_MODELS, DoubleModel(name="judge:7b")])
        self.decide: Callable[[str], str] = lambda prompt: '{"explanation": "?", "verdict": "tie"}'
        self._body: dict[str, Any] = {}

    async def _read(self, request: Any) -> Any:
        body, problem = await super()._read(request)
        self._body = body or {}
        return body, problem

    def _tokens_for(self, options: dict[str, Any]) -> tuple[list[str], str]:
        # Called right after _read for the same request, with no await in between.
        if self._body.get("format") is not None:
            reply = self.decide(self._body["messages"][-1]["content"])
            self.reply = re.findall(r".{1,4}", reply, re.S)  # streamed in small pieces
        return super()._tokens_for(options)

    def judge_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.bodies("/api/chat") if b.get("format") is not None]
