"""What made an answer's speed comparable or not: shared by the stream's metrics and the stored answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SpeedConditionsPublic(BaseModel):
    """Null where the engine did not say, and while a blind conversation keeps its metrics back."""

    cached_prompt_tokens: int | None = Field(
        None, description="Prompt tokens the engine's cache served (a warm cache shortens ttft_s); null: not reported"
    )
    prompt_s: float | None = Field(None, description="The engine's own prompt-processing time; null: not reported")
    finish_reason: str | None = Field(
        None, description='Why generation ended, as the engine said: "stop", "length" (the token limit)…'
    )
    wait_s: float | None = Field(
        None, description="Seconds waiting for a free engine slot, inside ttft_s (a wait: speed not compared)"
    )
    load_s: float | None = Field(None, description="Seconds loading the model, inside ttft_s; null: no load or not said")
    engine_timed: bool | None = Field(
        None, description="tokens_per_sec is the engine's own generation clock (a prompt cache cannot affect it)"
    )
    contended: bool | None = Field(
        None,
        description="Another round's generation (another conversation, a regenerate, a judge, a bench item) "
        "ran beside this answer: its speed is not compared; null: not known",
    )
