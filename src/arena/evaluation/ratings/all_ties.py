"""A board on which every battle is a tie: its ratings all sit at 1000 and its intervals shrink to
"1000 – 1000", which reads as certainty although the battles said nothing. Every view of a board
(API, page, CLI, bench report) says so with this note instead."""

from __future__ import annotations

from typing import Final

from arena.evaluation.ratings.fit import Leaderboard

ALL_TIES_NOTE: Final = (
    "Every battle is a tie (or both bad): the ratings cannot tell these contestants apart, and an interval "
    "of 1000 – 1000 means no signal, not certainty. When the battles come from a judge, see its position "
    "consistency on the Judges page (or arena judges): a judge that flips with the order makes every verdict a tie."
)


def every_battle_tied(board: Leaderboard) -> bool:
    """True when the board has battles and none of them had a winner."""
    return board.total_battles > 0 and all(row.wins == 0 and row.losses == 0 for row in board.rows)
