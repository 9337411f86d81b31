"""Battles from stored signals: every vote and verdict as rows between two instances (pure).

The rules (``evaluation/ratings/standings.py`` tells them for the leaderboard):

    human pairwise vote          A / B / tie / both_bad, as cast
    human thumbs on one turn     by one voter, for each two instances: up beats down,
                                 up + up is a tie, down + down is both-bad
    judge, pairwise              the winner over both orders (a flip is already a tie)
    judge, single / reference    for each two instances graded on one turn by one judge:
                                 the higher score wins, equal scores tie

Only the latest word counts: a voter's pairwise vote on a pair replaces the pair their thumbs
would give, and re-running a judge on the same turn replaces its earlier verdict on that pair.

Both the derive-on-read path and the stored ``battles`` table (``battles.py``) are built by
``battle_rows``, so they cannot drift apart. A row's ``order`` reproduces the order battles have
always been read in (online Elo depends on it): by ``counts_at``, then pairwise votes before
thumbs before pairwise verdicts before grades, then by the group's first signal, then the pair's
place in the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any, Final

from arena.storage.battle_signals import BattleSignals, JudgmentSignal, PairwiseVoteSignal, ThumbSignal

# Kinds of battle, in the order battles at one instant are read.
PAIRWISE_VOTE: Final = 0
THUMBS: Final = 1
PAIRWISE_VERDICT: Final = 2
GRADES: Final = 3

_VOTE_OUTCOMES: Final[dict[str, str]] = {"A": "a", "B": "b", "tie": "tie", "both_bad": "both_bad"}
_THUMB_OUTCOMES: Final[dict[tuple[str, str], str]] = {
    ("up", "down"): "a",
    ("down", "up"): "b",
    ("up", "up"): "tie",
    ("down", "down"): "both_bad",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class BattleRow:
    """One battle between two instances (their models may be the same: rated by model, such a
    battle says nothing and is left out by the reader)."""

    conversation_id: str | None  # None: a benchmark run's verdict
    run_id: str | None  # the benchmark run of a turn-less verdict
    turn_id: int | None
    instance_a: str
    instance_b: str
    model_a: str
    model_b: str
    outcome: str  # a | b | tie | both_bad
    source: str  # human | judge
    judge_model: str | None
    category: str | None
    counts_at: datetime
    kind: int  # PAIRWISE_VOTE … GRADES
    group_key: int  # the id of the group's first signal (vote or judgment)
    position: int  # the pair's place in its group
    response_a_id: int | None  # the answers compared, where the signal names them
    response_b_id: int | None

    @property
    def order(self) -> tuple[datetime, int, int, int]:
        return (self.counts_at, self.kind, self.group_key, self.position)


def battle_rows(signals: BattleSignals) -> list[BattleRow]:
    """Every battle the signals give, in reading order (``BattleRow.order``)."""
    voted = {(v.turn_id, v.voter_id, frozenset((v.instance_a, v.instance_b))) for v in signals.pairwise_votes}
    rows = [
        *_from_pairwise_votes(signals.pairwise_votes),
        *_from_thumbs(signals.thumbs, voted_pairs=voted),
        *_from_judgments(signals.judgments),
    ]
    rows.sort(key=lambda row: row.order)
    return rows


def _from_pairwise_votes(votes: Iterable[PairwiseVoteSignal]) -> list[BattleRow]:
    return [
        BattleRow(
            conversation_id=vote.conversation_id,
            run_id=None,
            turn_id=vote.turn_id,
            instance_a=vote.instance_a,
            instance_b=vote.instance_b,
            model_a=vote.model_a,
            model_b=vote.model_b,
            outcome=_VOTE_OUTCOMES[vote.value],
            source="human",
            judge_model=None,
            category=vote.category,
            counts_at=vote.counts_at,
            kind=PAIRWISE_VOTE,
            group_key=vote.id,
            position=0,
            response_a_id=None,
            response_b_id=None,
        )
        for vote in votes
    ]


def _from_thumbs(
    thumbs: Iterable[ThumbSignal], *, voted_pairs: set[tuple[int, int | None, frozenset[str]]]
) -> list[BattleRow]:
    # One voter's thumbs on one turn; a regenerated answer's newer thumb replaces the older.
    latest: dict[tuple[int, int | None], dict[str, ThumbSignal]] = {}
    first_vote: dict[tuple[int, int | None], int] = {}
    for thumb in thumbs:  # by vote id
        first_vote.setdefault((thumb.turn_id, thumb.voter_id), thumb.vote_id)
        latest.setdefault((thumb.turn_id, thumb.voter_id), {})[thumb.instance_id] = thumb
    rows = []
    for group, by_instance in latest.items():
        turn_id, voter_id = group
        for position, (first, second) in enumerate(combinations(by_instance.values(), 2)):
            if (turn_id, voter_id, frozenset((first.instance_id, second.instance_id))) in voted_pairs:
                continue  # the voter said it outright
            rows.append(
                BattleRow(
                    conversation_id=first.conversation_id,
                    run_id=None,
                    turn_id=turn_id,
                    instance_a=first.instance_id,
                    instance_b=second.instance_id,
                    model_a=first.model,
                    model_b=second.model,
                    outcome=_THUMB_OUTCOMES[(first.value, second.value)],
                    source="human",
                    judge_model=None,
                    category=_thumbs_category(first, second),
                    counts_at=max(first.counts_at, second.counts_at),
                    kind=THUMBS,
                    group_key=first_vote[group],
                    position=position,
                    response_a_id=first.response_id,
                    response_b_id=second.response_id,
                )
            )
    return rows


def _thumbs_category(first: ThumbSignal, second: ThumbSignal) -> str | None:
    """Two thumbs on one turn: the newer one's category, else the older one's."""
    older, newer = sorted((first, second), key=lambda thumb: thumb.counts_at)
    return newer.category or older.category


def _from_judgments(judgments: Iterable[JudgmentSignal]) -> list[BattleRow]:
    # A judgment about a stored turn replaces the same judge's earlier one on that pair; a
    # turn-less one (a benchmark item) stands alone, since nothing says which prompt it was
    # about. Grades pair up within a turn, or within one run for turn-less ones.
    pairs: dict[tuple[Any, ...], JudgmentSignal] = {}
    grades: dict[tuple[Any, ...], dict[str, JudgmentSignal]] = {}
    first_id: dict[tuple[Any, ...], int] = {}
    for judgment in judgments:  # oldest first, so later ones overwrite
        if judgment.mode == "pairwise" and judgment.instance_b is not None:
            same_pair = frozenset((judgment.instance_a, judgment.instance_b))
            key = (
                (judgment.turn_id, judgment.judge_model, same_pair) if judgment.turn_id is not None else (judgment.id,)
            )
            first_id.setdefault(("pair", *key), judgment.id)
            pairs[key] = judgment
        elif judgment.score is not None:
            prompt = judgment.turn_id if judgment.turn_id is not None else judgment.run_id
            key = (prompt, judgment.judge_model, judgment.mode)
            first_id.setdefault(("grade", *key), judgment.id)
            grades.setdefault(key, {})[judgment.instance_a] = judgment
    rows = []
    for key, judgment in pairs.items():
        assert judgment.instance_b is not None and judgment.model_b is not None and judgment.winner is not None
        rows.append(
            _verdict_row(
                judgment,
                judgment,
                outcome=judgment.winner,
                kind=PAIRWISE_VERDICT,
                group_key=first_id[("pair", *key)],
                position=0,
                category=judgment.category,
                counts_at=judgment.counts_at,
            )
        )
    for key, graded in grades.items():
        for position, (first, second) in enumerate(combinations(graded.values(), 2)):
            assert first.score is not None and second.score is not None
            outcome = "a" if first.score > second.score else "b" if second.score > first.score else "tie"
            rows.append(
                _verdict_row(
                    first,
                    second,
                    outcome=outcome,
                    kind=GRADES,
                    group_key=first_id[("grade", *key)],
                    position=position,
                    category=second.category or first.category,
                    counts_at=max(first.counts_at, second.counts_at),
                )
            )
    return rows


def _verdict_row(first: JudgmentSignal, second: JudgmentSignal, **fields: Any) -> BattleRow:
    """A judge's battle: ``first`` gives side A; ``second`` side B (the same verdict for a pair)."""
    pair = first is second
    return BattleRow(
        conversation_id=first.conversation_id,
        run_id=first.run_id if first.turn_id is None else None,
        turn_id=first.turn_id,
        instance_a=first.instance_a,
        instance_b=second.instance_b if pair else second.instance_a,  # type: ignore[arg-type]
        model_a=first.model_a,
        model_b=second.model_b if pair else second.model_a,  # type: ignore[arg-type]
        source="judge",
        judge_model=first.judge_model,
        response_a_id=first.response_a_id,
        response_b_id=second.response_b_id if pair else second.response_a_id,
        **fields,
    )
