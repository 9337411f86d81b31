"""The NDJSON lines of /api/stream_chat, in both formats, as /openapi.json documents them.

`v3` (the default, as a v3 client opts into nothing): every line has a `type` — "start",
"token", "metrics" or "error" — and the keys v3's own readers index (`model`, `token`,
`instance_id`), so neither v3's page nor API.md's Python example trips on a line.
`arena` (`?format=arena`, the arena's own page): the lines without `type`, a done line that
carries `status`. A request that must wait for a free slot (past ARENA_MAX_GENERATIONS) starts
with `queued` lines in format arena only (v3 waits without a word), and one refused while it
waits ends with a `queued: false` line instead of a turn. `web/streaming.py` writes both; tests check every line against these models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from arena.web.schemas.chat import MetricsPublic, V3MetricsPublic

LineFormat = Literal["v3", "arena"]
FORMAT_DESCRIPTION = (
    "`v3` (default): the original Ollama Arena v3 lines and results, keyed by the client's own instance `id` "
    "when it sent one. `arena`: the arena's own lines (no `type`, a `status` on done lines), keyed by the "
    "stored instance id, or by the blind label while a conversation is blind."
)

SHOW_METRICS_DESCRIPTION = (
    "Blind conversations before the reveal: include each answer's metrics (speed, tokens, prompt tokens, "
    "cache state), which can tell models apart. Withheld by default, in either format: left out (`arena`), "
    "or every value null (`v3`, so a v3 reader's line keeps its keys); always included otherwise."
)


class StreamInstancePublic(BaseModel):
    instance_id: str = Field(description="The key later lines use: the client's `id` (v3), the stored id, or a label")
    model: str = Field(description="The model, or the blind label while the conversation is blind")


class V3StartLine(BaseModel):
    """First line: where the turn is stored. `model` and `token` are empty so a v3 reader skips it."""

    type: Literal["start"]
    conversation_id: str
    turn_id: int
    instances: list[StreamInstancePublic]
    model: Literal[""]
    token: Literal[""]
    done: Literal[False]


class V3TokenLine(BaseModel):
    type: Literal["token"]
    instance_id: str
    model: str
    token: str
    done: Literal[False]


class V3MetricsLine(BaseModel):
    """An instance finished its answer."""

    type: Literal["metrics"]
    instance_id: str
    model: str
    token: Literal[""]
    metrics: V3MetricsPublic
    done: Literal[True]
    status: Literal["ok"]


class V3ErrorLine(BaseModel):
    """An instance failed, or was stopped (`status`); its partial text stays stored."""

    type: Literal["error"]
    instance_id: str
    model: str
    token: Literal[""]
    error: str
    metrics: V3MetricsPublic | None = None
    done: Literal[True]
    status: Literal["error", "stopped"]


V3StreamLine = Annotated[V3StartLine | V3TokenLine | V3MetricsLine | V3ErrorLine, Field(discriminator="type")]


class ArenaQueuedLine(BaseModel):
    """Before the first line, while the request waits for a free slot (the server runs
    ARENA_MAX_GENERATIONS at once): sent when its place changes, and every few seconds."""

    queued: Literal[True]
    position: int = Field(ge=0, description="Requests ahead of this one in the queue (0: it is next)")


class ArenaRefusedLine(BaseModel):
    """The last line of a request refused while it waited or as it started (nothing was stored):
    the HTTP status has gone out as 200 already, so `status` is the one it would have had — 503
    when no slot came free within ARENA_QUEUE_TIMEOUT_S (the server is busy)."""

    queued: Literal[False]
    status: int = Field(description="The HTTP status this refusal would have had")
    error: str
    retry_after: int | None = Field(default=None, description="Seconds to wait before trying again (Retry-After)")


class ArenaStartLine(BaseModel):
    conversation_id: str
    turn_id: int
    instances: list[StreamInstancePublic]


class ArenaTokenLine(BaseModel):
    instance_id: str
    model: str
    token: str
    done: Literal[False]


class ArenaDoneLine(BaseModel):
    """An instance finished: `status` and `error` only when it did not end well."""

    instance_id: str
    model: str
    done: Literal[True]
    response_id: int | None = Field(
        default=None, description="The stored answer this line ends (absent when nothing could be stored)"
    )
    metrics: MetricsPublic | None = None
    status: Literal["error", "stopped"] | None = None
    error: str | None = None


ArenaStreamLine = ArenaQueuedLine | ArenaRefusedLine | ArenaStartLine | ArenaTokenLine | ArenaDoneLine

