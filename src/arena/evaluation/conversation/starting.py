"""A new turn's generation starts before the turn is written: the engines work on their first
tokens while the conversation, the turn and one `streaming` answer per instance are stored. The
recorder holds every event until the rows exist, then writes them; an instance that finished
meanwhile and could not be saved ends as an error, never silently."""

from __future__ import annotations

import asyncio

from arena.engines.router import Router
from arena.evaluation.conversation.compare import Comparison
from arena.evaluation.conversation.recording import ResponseRecorder
from arena.evaluation.conversation.turns import PreparedTurn, TurnPlan, write_turn
from arena.storage.db import Database


async def start_new_turn(
    *, router: Router, database: Database, plan: TurnPlan, timeout_s: float
) -> tuple[PreparedTurn, Comparison, dict[str, int]]:
    """The written turn, its running comparison, and instance id -> its stored answer (the
    recorder's own map, filled as rows are made). Nothing is written if the turn cannot be."""
    recorder = ResponseRecorder(database=database)  # holds everything until the turn exists
    comparison = Comparison(router=router, targets=plan.targets, sink=recorder, timeout_s=timeout_s)
    try:
        prepared = await asyncio.to_thread(write_turn, database=database, plan=plan)
    except BaseException:
        await comparison.aclose()  # never attached: nothing of it is written
        raise
    for instance_id, failure in recorder.attach(turn_id=prepared.turn_id, response_ids=prepared.response_ids).items():
        comparison.record_failed(instance_id, failure)  # finished meanwhile, and could not be saved
    return prepared, comparison, recorder.response_ids
