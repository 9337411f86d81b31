"""GET /api/leaderboard/next-pair: the pair whose next vote would narrow the ranking most."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NextInstancePublic(BaseModel):
    id: str = Field(description="The instance id, as asked")
    model: str
    settings: dict[str, str] = Field(description="temperature, top_p, top_k, repeat_penalty, num_predict, seed")
    name: str = Field(description="A readable name: the model plus the settings that tell the two apart")


class NextPairPublic(BaseModel):
    pair: list[str] | None = Field(
        description="The two models (instances with by=instance) of the candidates asked about to compare next, "
        "or null with fewer than two"
    )
    by: Literal["model", "instance"] = Field("model", description="What the candidates and `pair` are")
    instances: list[NextInstancePublic] | None = Field(
        None, description="With by=instance: each of `pair` as a model and its settings; null by model"
    )
    battles: int = Field(description="Battles between the two so far, in the battles the filters chose")
    overlap: float = Field(
        description="How much their order is in doubt: 2·Φ(-|rating gap| / standard error of the gap), 1 when "
        "either has no battles yet (a coin flip), near 0 when their intervals lie far apart"
    )
    reason: str = Field(description="Why this pair, in words for the page")
    source: Literal["human", "judge", "all"]
    category: str | None
    categories: list[str] = Field(
        description="Every category named by a vote or a judge verdict: the choices the page offers a voter"
    )
