"""An in-process judge that answers by a rule the test sets, reading the prompt it is shown like a real judge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arena.engines.base import Message


class ScriptedJudge:
    """A judge client for `run_judge`: `decide(prompt)` writes the reply; it keeps every prompt and schema."""

    def __init__(self, decide: Callable[[str], str], *, name: str = "ollama:judge") -> None:
        self.name = name
        self.cloud = False
        self.decide = decide
        self.prompts: list[str] = []
        self.schemas: list[dict[str, Any]] = []

    async def complete(self, messages: list[Message], *, schema: dict[str, Any]) -> str:
        self.prompts.append(messages[-1].content)
        self.schemas.append(schema)
        return self.decide(messages[-1].content)
