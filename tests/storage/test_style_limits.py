"""Style control over the stored battles: a view too big for it is refused from the cheap stored
count before any battle is derived, and the battle counts say what the table rates."""

from __future__ import annotations

from typing import Any

import pytest

from arena.errors import InvalidInput
from arena.evaluation.ratings import stored, style
from arena.storage.db import Database
from tests.storage.test_battle_counts import seed_history

pytestmark = pytest.mark.timeout(120)


def test_a_view_with_too_many_battles_or_rounds_is_refused_before_any_battle_is_derived(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_history(database)
    battles = sum(stored.stored_standings(database, rounds=0).battles_by_source.values())

    def no_derive(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("battles were derived before the refusal")

    monkeypatch.setattr(stored, "derived_standings", no_derive)
    monkeypatch.setattr(style, "MAX_STYLE_BATTLES", battles - 1)
    with pytest.raises(InvalidInput, match=f"at most {battles - 1:,} battles and this view has {battles:,}; narrow"):
        stored.stored_standings(database, rounds=0, style_control=True)
    monkeypatch.setattr(style, "MAX_STYLE_BATTLES", battles)
    monkeypatch.setattr(style, "MAX_BOOTSTRAP_WORK", battles * 10)
    with pytest.raises(InvalidInput, match=f"over {battles:,} battles allows at most 10 bootstrap rounds"):
        stored.stored_standings(database, rounds=11, style_control=True)
    monkeypatch.undo()
    assert stored.stored_standings(database, rounds=10, style_control=True).style is not None


def test_with_style_control_the_battle_counts_are_those_rated_and_the_rest_are_counted_as_left_out(
    database: Database,
) -> None:
    seed_history(database)  # cast votes have answers; the benchmark run's verdicts have none
    plain = stored.stored_standings(database, rounds=0)
    styled = stored.stored_standings(database, rounds=0, style_control=True)
    assert styled.style is not None and styled.style.battles_without_style > 0
    rated = sum(styled.battles_by_source.values())
    assert rated == styled.board.to_dict()["total_battles"] > 0
    assert rated + styled.style.battles_without_style == sum(plain.battles_by_source.values())
