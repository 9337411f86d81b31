"""GET /api/leaderboard/next-pair: which two models a blind battle should compare next."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from arena.errors import InvalidInput
from arena.evaluation.ratings.sampling import PairProposal, propose_pair
from arena.evaluation.ratings.stored import stored_standings
from arena.storage.models import CATEGORY_MAX_LENGTH, MODEL_ID_MAX_LENGTH
from arena.web.deps import Db, Viewer
from arena.web.openapi import error_responses
from arena.web.schemas.sampling import NextPairPublic

router = APIRouter(tags=["leaderboard"])

ERRORS = error_responses(400, 422)
MAX_CANDIDATES = 200
ROUNDS = 1000  # the leaderboard's default, so the proposal reads the intervals the page shows

Candidate = Annotated[str, Query(min_length=1, max_length=MODEL_ID_MAX_LENGTH)]


def _reason(proposal: PairProposal) -> str:
    if math.isinf(proposal.score):
        return "At least one of them has no battles yet: its rating is unknown."
    if proposal.battles == 0:
        return "They have never met, and their intervals overlap."
    return (
        f"Their intervals overlap the most for the battles they have had ({proposal.battles} between them): "
        "a vote here narrows the ranking most."
    )


@router.get("/api/leaderboard/next-pair", response_model=NextPairPublic, responses=ERRORS, dependencies=[Viewer])
async def get_next_pair(
    db: Db,
    candidate: list[Candidate] = Query(
        ..., min_length=2, max_length=MAX_CANDIDATES, description="Model ids to choose from (repeat the parameter)"
    ),
    source: Literal["human", "judge", "all"] = Query("all", description="Rate by human votes, judges, or both"),
    category: str | None = Query(None, min_length=1, max_length=CATEGORY_MAX_LENGTH),
) -> NextPairPublic:
    """Of the candidates, the pair whose next vote would shrink the ranking's uncertainty most: wide,
    overlapping intervals and few battles between them (unrated models first)."""
    if len(set(candidate)) < 2:
        raise InvalidInput("name at least two different candidate models")

    def compute() -> NextPairPublic:
        result = stored_standings(db, source=source, category=category, rounds=ROUNDS)
        proposal = propose_pair(result.board, candidate)
        assert proposal is not None  # two different candidates make at least one pair
        return NextPairPublic(
            pair=[proposal.model_a, proposal.model_b],
            battles=proposal.battles,
            overlap=round(proposal.overlap, 4),
            reason=_reason(proposal),
            source=source,
            category=category,
            categories=result.categories,
        )

    return await asyncio.to_thread(compute)
