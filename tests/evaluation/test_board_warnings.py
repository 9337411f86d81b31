"""What a board must not claim (ratings/provisional.py, style.py's coefficients): a handful of votes
is no settled rank, and a style no answer differed in has no coefficient."""

from __future__ import annotations

import pytest

from arena.evaluation.ratings.fit import leaderboard
from arena.evaluation.ratings.pairs import Battle
from arena.evaluation.ratings.provisional import honest_ranks, provisional_note, provisional_reasons
from arena.evaluation.ratings.sampling import neighbour_votes
from arena.evaluation.ratings.style import style_controlled
from arena.evaluation.ratings.style_features import StyleFeatures

pytestmark = pytest.mark.timeout(30)


def games(a: str, b: str, wins: int, losses: int) -> list[Battle]:
    return [Battle(model_a=a, model_b=b, outcome="a") for _ in range(wins)] + [
        Battle(model_a=a, model_b=b, outcome="b") for _ in range(losses)
    ]


def test_a_five_nil_newcomer_is_provisional_and_claims_no_rank_over_rows_it_never_met() -> None:
    # strong > mid > weak are well measured; y lost 5–0 to weak and met no one else.
    battles = games("strong", "mid", 60, 20) + games("mid", "weak", 60, 20) + games("weak", "y", 5, 0)
    board = leaderboard(battles, rounds=300, seed=0)
    rows = {row.model: row for row in board.rows}

    reasons = provisional_reasons(board)

    assert set(reasons) == {"y"} and "only 5 battles" in reasons["y"]
    ranks = dict(zip(board.models, honest_ranks(board, reasons), strict=True))
    # The fit alone ranks y 4th outright, below rows it never played, as if that were settled.
    assert rows["y"].rank == 4
    # Honestly, y is below only weak, the one row it played; the others keep their ranks.
    assert ranks["y"] == 2
    assert all(ranks[model] == rows[model].rank for model in ("strong", "mid", "weak"))
    # No "0 more votes needed" beside a provisional row.
    votes = dict(zip(board.models, neighbour_votes(board, provisional=reasons), strict=True))
    for index, model in enumerate(board.models[:-1]):
        if model in reasons or board.models[index + 1] in reasons:
            assert votes[model] is None
    assert votes["weak"] is None
    note = provisional_note(["x", "y"])
    assert note is not None and "x, y have fewer than 10 battles" in note
    assert provisional_note([]) is None


def test_a_degenerate_bootstrap_is_provisional_whatever_the_battle_count() -> None:
    # Every battle a win for a: each resample is the same, so the interval has no width.
    board = leaderboard(games("a", "b", 40, 0), rounds=100, seed=0)
    reasons = provisional_reasons(board)
    widths = {row.model: (row.ci_high or 0) - (row.ci_low or 0) for row in board.rows}
    assert all(width == pytest.approx(0.0, abs=1e-9) for width in widths.values())
    assert set(reasons) == {"a", "b"} and "no width" in reasons["a"]


def test_a_style_no_answer_differed_in_is_not_estimable() -> None:
    # Answers differ in length and lists, never in headers or bold (none used either).
    battles = []
    for index in range(60):
        long, short = StyleFeatures(length=800, headers=0, lists=index % 3, bold=0), StyleFeatures(
            length=200, headers=0, lists=0, bold=0
        )
        outcome = "a" if index % 4 else "b"
        battles.append(Battle(model_a=f"m{index % 3}", model_b=f"m{(index + 1) % 3}", outcome=outcome,  # type: ignore[arg-type]
                              style_a=long, style_b=short))  # fmt: skip

    result = style_controlled(battles, rounds=50, seed=0)

    by_name = {coefficient.name: coefficient for coefficient in result.coefficients}
    for name in ("headers", "bold"):
        assert by_name[name].value is None and by_name[name].ci_low is None and by_name[name].ci_high is None
        assert by_name[name].not_estimable is not None and "differed" in by_name[name].not_estimable
    for name in ("length", "lists"):
        assert by_name[name].value is not None and by_name[name].not_estimable is None
