"""What a board cannot claim, computed once for every view of it (API, page, CLI): rows too thin
to rank (``provisional``), verdicts of judges flagged unreliable (``judge.flagged``), a board of
nothing but ties (``all_ties``), and the votes-to-separate estimates that are left meaningful."""

from __future__ import annotations

from dataclasses import dataclass

from arena.evaluation.judge.flagged import unreliable_note
from arena.evaluation.ratings.all_ties import ALL_TIES_NOTE, every_battle_tied
from arena.evaluation.ratings.provisional import honest_ranks, provisional_note, provisional_reasons
from arena.evaluation.ratings.sampling import neighbour_votes
from arena.evaluation.ratings.standings import Standings
from arena.storage.db import Database


@dataclass(frozen=True, kw_only=True)
class BoardWarnings:
    provisional: dict[str, str]  # row key → why it is provisional
    ranks: list[int]  # per row, best first: no separation claimed from a row a provisional one never met
    votes_to_separate: list[int | None]  # per row; None beside a provisional row
    all_ties: bool
    unreliable_judges: list[str]  # flagged judges whose verdicts the view counts
    notes: list[str]  # for people, most important first

    @property
    def note(self) -> str | None:
        return " ".join(self.notes) or None


def board_warnings(database: Database, result: Standings) -> BoardWarnings:
    board = result.board
    provisional = provisional_reasons(board)
    tied = every_battle_tied(board)
    judges, judge_note = unreliable_note(database, result.judges_in_view)
    names = [result.names.get(row.model, row.model) for row in board.rows if row.model in provisional]
    notes = [text for text in (ALL_TIES_NOTE if tied else None, judge_note, provisional_note(names)) if text]
    return BoardWarnings(
        provisional=provisional,
        ranks=honest_ranks(board, provisional),
        votes_to_separate=neighbour_votes(board, provisional=provisional),
        all_ties=tied,
        unreliable_judges=judges,
        notes=notes,
    )
