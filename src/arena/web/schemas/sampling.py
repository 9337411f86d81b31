"""GET /api/leaderboard/next-pair: the pair whose next vote would narrow the ranking most."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NextPairPublic(BaseModel):
    pair: list[str] | None = Field(
        description="The two models (of the candidates asked about) to compare next, or null with fewer than two"
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
