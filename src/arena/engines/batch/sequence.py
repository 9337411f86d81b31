"""One answer in the batch: its prompt, sampler chain, clocks and the way its events leave."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arena.engines.base import GenerationRequest, Usage
from arena.engines.batch.sampling import ChainSettings
from arena.engines.batch.text import TextStream


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Done:
    usage: Usage
    finish_reason: str


@dataclass(frozen=True)
class Failed:
    error: BaseException


Event = Text | Done | Failed


@dataclass(kw_only=True)
class Sequence:
    """Created on the event loop, then owned by the decode loop's thread until it leaves."""

    request: GenerationRequest
    emit: Callable[[Event], None]
    load_s: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.perf_counter)
    waited: bool = False  # all slots were taken when it could have joined
    # Set by the loop when the sequence joins the batch.
    seq_id: int = -1
    prompt: list[int] = field(default_factory=list)
    text: TextStream | None = None
    chain: Any = None
    n_past: int = 0
    limit: int = 0  # most tokens it may generate (its token limit or the context left)
    generated: int = 0
    shared_prompt_tokens: int = 0
    joined: float = 0.0
    first: float | None = None
    last: float | None = None
    last_token: int = -1

    @property
    def settings(self) -> ChainSettings:
        return ChainSettings(options=self.request.options, json_schema=self.request.json_schema)

    def usage(self) -> Usage:
        # Time waiting for a slot; joining at the next step of a running batch is no wait.
        wait = self.joined - self.submitted if self.waited and self.joined else 0.0
        generation_s: float | None = None
        if self.first is not None and self.last is not None and self.generated > 1 and self.last > self.first:
            # Each token after the first took one step: the rate between them, over every token.
            generation_s = (self.last - self.first) / (self.generated - 1) * self.generated
        return Usage(
            prompt_tokens=len(self.prompt),
            completion_tokens=self.generated,
            generation_s=round(generation_s, 4) if generation_s else None,
            load_s=self.load_s,
            wait_s=round(wait, 4),
            cached_prompt_tokens=0,
            shared_prompt_tokens=self.shared_prompt_tokens,
            prompt_s=round(self.first - self.joined, 4) if self.first is not None else None,
            engine_settings={"min_p": self.settings.min_p},
        )
