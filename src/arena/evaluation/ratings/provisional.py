"""Rows too thin to rank: a handful of votes gives a Bradley–Terry fit and a bootstrap that look
certain (x beats y 3–0: y's interval is narrow and its rank reads as settled). A row is
*provisional* when it has fewer than ``MIN_BATTLES`` battles, or when its bootstrap is degenerate
(a zero-width interval: every resample gave the same rating, which is no measure of certainty).
A provisional row's rank claims no separation from a row it never played. Pure: reads a board."""

from __future__ import annotations

from typing import Final

from arena.evaluation.ratings.fit import Leaderboard

# Ten battles: below that a single upset moves a win rate by 10 points or more, and the bootstrap
# resamples so few outcomes that its percentiles are a handful of distinct values, not an interval.
MIN_BATTLES: Final = 10

PROVISIONAL_NOTE: Final = (
    "Provisional: {names} {verb} fewer than {minimum} battles or an interval that did not vary across the "
    "bootstrap, so {pronoun} rating and rank are not settled (a rank counts only rows {pronoun2} played). "
    "More votes will settle {pronoun3}."
)


def provisional_reasons(board: Leaderboard, *, minimum: int = MIN_BATTLES) -> dict[str, str]:
    """Each provisional row's key → why, for people; rows not listed are not provisional."""
    reasons = {}
    for row in board.rows:
        if row.battles < minimum:
            reasons[row.model] = f"only {row.battles} battle{'' if row.battles == 1 else 's'} (fewer than {minimum})"
        elif row.ci_low is not None and row.ci_high is not None and row.ci_high - row.ci_low <= 1e-9:
            reasons[row.model] = "its bootstrap interval has no width: every resample gave the same rating"
    return reasons


def honest_ranks(board: Leaderboard, provisional: dict[str, str]) -> list[int]:
    """Each row's rank (1 + the rows whose lower bound is above its upper bound), where a pair with a
    provisional row counts only when the two played each other; the board's ranks otherwise."""
    if not provisional:
        return [row.rank for row in board.rows]
    position = {model: index for index, model in enumerate(board.models)}
    ranks = []
    for row in board.rows:
        if row.ci_high is None:
            ranks.append(row.rank)
            continue
        above = 0
        for other in board.rows:
            if other.model == row.model or other.ci_low is None or other.ci_low <= row.ci_high:
                continue
            met = board.counts[position[row.model], position[other.model]] > 0
            if met or (row.model not in provisional and other.model not in provisional):
                above += 1
        ranks.append(1 + above)
    return ranks


def provisional_note(names: list[str], *, minimum: int = MIN_BATTLES) -> str | None:
    """The board's sentence about its provisional rows (their readable names); None without any."""
    if not names:
        return None
    one = len(names) == 1
    return PROVISIONAL_NOTE.format(
        names=", ".join(names),
        verb="has" if one else "have",
        minimum=minimum,
        pronoun="its" if one else "their",
        pronoun2="it" if one else "they",
        pronoun3="it" if one else "them",
    )
