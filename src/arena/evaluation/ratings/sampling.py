"""Which pair to vote on next, and how many votes would separate two neighbours. Pure: reads a
fitted ``Leaderboard`` (ratings, 95% bootstrap intervals, battle counts), stores nothing.

Both read a contestant's standard error off its interval (half its width over z = 1.96) and
assume, as any sample mean does, that it shrinks as 1 / sqrt(battles).

**Next pair** (the idea of Chatbot Arena's active sampling: spend votes where the ranking is
least sure). A vote between i and j narrows the standard error of their difference,
``se_ij = sqrt(se_i² + se_j²)``, by about ``se_ij · (1 - sqrt(n / (n + 1)))`` with ``n`` their
battles so far; that only helps the ranking while their order is in doubt, so it is weighted by
``2 · Φ(-|R_i - R_j| / se_ij)`` (1 for identical ratings, near 0 for intervals far apart). A
contestant without battles has no interval: its pairs come first (the fewest battles first).

**Votes to separate** two neighbours i above j: the smallest k such that, after k more votes
between them (one more battle each per vote), i's lower half-interval plus j's upper one is
smaller than the gap between their ratings, ratings held where they are:
``(R_i - lo_i) · sqrt(n_i / (n_i + k)) + (hi_j - R_j) · sqrt(n_j / (n_j + k)) < R_i - R_j``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Final

from arena.evaluation.ratings.fit import Leaderboard, LeaderboardRow

Z_95: Final = 1.959963984540054
# Beyond this many votes the estimate says "not in practice" (None) rather than a number.
MAX_VOTES: Final = 10_000_000


@dataclass(frozen=True, kw_only=True)
class PairProposal:
    model_a: str
    model_b: str
    score: float  # expected narrowing of se_ij, weighted by the doubt about their order; inf: unrated
    battles: int  # between the two so far
    overlap: float  # 2 · Φ(-|ΔR| / se_ij): 1 = the order is a coin flip, 0 = settled


def standard_error(row: LeaderboardRow, *, z: float = Z_95) -> float:
    """The rating's standard error from its interval; inf without one (no bootstrap, no battles)."""
    if row.ci_low is None or row.ci_high is None or row.battles == 0:
        return math.inf
    return (row.ci_high - row.ci_low) / (2.0 * z)


def _overlap(gap: float, se: float) -> float:
    if math.isinf(se):
        return 1.0
    if se == 0.0:
        return 1.0 if gap == 0.0 else 0.0
    return math.erfc(abs(gap) / (se * math.sqrt(2.0)))  # = 2 · Φ(-|gap| / se)


def propose_pair(board: Leaderboard, candidates: Sequence[str]) -> PairProposal | None:
    """The pair of ``candidates`` (board keys: models, or instances when rated so) whose next
    vote would narrow the ranking's uncertainty most; None with fewer than two candidates.
    Candidates absent from the board have no battles yet, so they come first."""
    keys = sorted(set(candidates))
    rows = {row.model: row for row in board.rows}
    position = {model: index for index, model in enumerate(board.models)}
    proposals = []
    for first, second in combinations(keys, 2):
        row_a, row_b = rows.get(first), rows.get(second)
        se_a = math.inf if row_a is None else standard_error(row_a)
        se_b = math.inf if row_b is None else standard_error(row_b)
        se = math.hypot(se_a, se_b)
        between = (
            int(board.counts[position[first], position[second]]) if first in position and second in position else 0
        )
        gap = 0.0 if row_a is None or row_b is None else row_a.rating - row_b.rating
        overlap = _overlap(gap, se)
        narrowing = se * (1.0 - math.sqrt(between / (between + 1.0))) if not math.isinf(se) else math.inf
        proposals.append(
            (
                PairProposal(model_a=first, model_b=second, score=narrowing * overlap, battles=between, overlap=overlap),
                (row_a.battles if row_a else 0) + (row_b.battles if row_b else 0),
            )
        )
    if not proposals:
        return None
    # Ties (say, several unrated pairs) go to the fewest battles between them, then in all.
    best, _ = min(proposals, key=lambda item: (-item[0].score, item[0].battles, item[1]))
    return best


def votes_to_separate(upper: LeaderboardRow, lower: LeaderboardRow, *, limit: int = MAX_VOTES) -> int | None:
    """More votes between ``upper`` and its neighbour below, ``lower``, until their intervals
    stop overlapping (0: they do not overlap now); None without intervals, for equal ratings,
    or beyond ``limit``."""
    if None in (upper.ci_low, upper.ci_high, lower.ci_low, lower.ci_high) or 0 in (upper.battles, lower.battles):
        return None
    assert upper.ci_low is not None and lower.ci_high is not None
    gap = upper.rating - lower.rating
    below, above = max(upper.rating - upper.ci_low, 0.0), max(lower.ci_high - lower.rating, 0.0)
    if gap <= 0.0:
        return None

    def apart(k: int) -> bool:
        shrunk_upper = below * math.sqrt(upper.battles / (upper.battles + k))
        shrunk_lower = above * math.sqrt(lower.battles / (lower.battles + k))
        return shrunk_upper + shrunk_lower < gap

    if apart(0):
        return 0
    if not apart(limit):
        return None
    low, high = 0, limit  # apart(low) is false, apart(high) true: the sum only shrinks as k grows
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if apart(middle) else (middle, high)
    return high


def neighbour_votes(board: Leaderboard) -> list[int | None]:
    """For each row (best first): votes to separate it from the row below; None for the last."""
    rows = board.rows
    return [votes_to_separate(rows[i], rows[i + 1]) if i + 1 < len(rows) else None for i in range(len(rows))]
