"""GET /api/leaderboard/next-pair: which two models (or instances: a model at its settings) a blind
battle should compare next."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from arena.errors import InvalidInput
from arena.evaluation.ratings.names import names_for, read_instance_id
from arena.evaluation.ratings.sampling import PairProposal, propose_pair
from arena.evaluation.ratings.standings import Unit
from arena.evaluation.ratings.stored import stored_standings
from arena.storage.models import CATEGORY_MAX_LENGTH, MODEL_ID_MAX_LENGTH
from arena.web.deps import Db, Viewer
from arena.web.openapi import error_responses
from arena.web.routes.pages import LEADERBOARD_ROUNDS
from arena.web.schemas.sampling import NextInstancePublic, NextPairPublic

router = APIRouter(tags=["leaderboard"])

ERRORS = error_responses(400, 422)
MAX_CANDIDATES = 200
ROUNDS = LEADERBOARD_ROUNDS  # the leaderboard page's, so the proposal reads the intervals the page shows

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
    by: Unit = Query("model", description="Candidates are model ids, or instance ids (a model at its settings)"),
) -> NextPairPublic:
    """Of the candidates, the pair whose next vote would shrink the ranking's uncertainty most: wide,
    overlapping intervals and few battles between them (unrated ones first). With by=instance the
    candidates are instance ids and the board rates each instance, as the leaderboard's by=instance."""
    if len(set(candidate)) < 2:
        raise InvalidInput(f"name at least two different candidate {'instances' if by == 'instance' else 'models'}")
    if by == "instance":
        unreadable = [key for key in candidate if read_instance_id(key) is None]
        if unreadable:
            raise InvalidInput(f"not an instance id (model__temperature_top_p_top_k_repeat_penalty_num_predict_seed): "
                               f"{unreadable[0]!r}")  # fmt: skip

    def compute() -> NextPairPublic:
        result = stored_standings(db, unit=by, source=source, category=category, rounds=ROUNDS)
        proposal = propose_pair(result.board, candidate)
        assert proposal is not None  # two different candidates make at least one pair
        pair = [proposal.model_a, proposal.model_b]
        instances = None
        if by == "instance":
            names = names_for(pair, unit="instance")
            read = [(key, read_instance_id(key)) for key in pair]
            instances = [
                NextInstancePublic(id=key, model=found.model, settings=dict(found.settings), name=names[key])
                for key, found in read
                if found is not None
            ]
        return NextPairPublic(
            pair=pair,
            by=by,
            instances=instances,
            battles=proposal.battles,
            overlap=round(proposal.overlap, 4),
            reason=_reason(proposal),
            source=source,
            category=category,
            categories=result.categories,
        )

    return await asyncio.to_thread(compute)
