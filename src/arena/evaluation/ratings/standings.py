"""The leaderboard from stored signals: every vote and verdict as a battle, filtered and rated.

Every pairwise signal becomes a battle with its source:

    human pairwise vote          A / B / tie / both_bad, as cast, in the category the voter named
    human thumbs on one turn     by one voter, for each two instances: up beats down,
                                 up + up is a tie, down + down is both-bad (kept apart from ties)
    judge, pairwise              the winner over both orders (a flip is already a tie)
    judge, single / reference    for each two instances graded on one turn by one judge:
                                 the higher score wins, equal scores tie

A blind conversation's signals count only once it is revealed, timed at the reveal (``battle_signals``).
Judge verdicts count whenever the candidates are instances: about a stored turn, or raw ones
keyed by instance id (batch benchmarks record theirs so, with the prompt's category).

Battles are between the instances' *models* by default, so a model's rating pools all its
settings; ``unit="instance"`` rates each model-at-settings separately instead. A battle whose
two sides are the same model (two temperatures of one model, rated by model) says nothing
about the model and is left out.

Only the latest word counts: a voter's pairwise vote on a pair replaces the pair their thumbs
would give, and re-running a judge on the same turn replaces its earlier verdict on that pair,
so repeating a judgment cannot inflate the counts. ``standings`` filters the battles and rates
them (``fit``: Bradley–Terry with bootstrap intervals, and online Elo), and names the
contestants for people (``names``: the model plus the settings that tell instances apart).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from arena.errors import InvalidInput
from arena.evaluation.ratings.answer_styles import AnswerStyles
from arena.evaluation.ratings.fit import Leaderboard, filter_battles, leaderboard, online_elo
from arena.evaluation.ratings.names import names_for
from arena.evaluation.ratings.pairs import SOURCES, Battle, Source
from arena.evaluation.ratings.style import StyleControlled, style_controlled
from arena.storage import battle_signals as signal_store
from arena.storage.battle_rows import battle_rows
from arena.storage.battle_signals import BattleSignals
from arena.storage.db import Database

Unit = Literal["model", "instance"]
UNITS: tuple[str, ...] = ("model", "instance")


MAX_ROUNDS: Final = 5000
# Online Elo's K: the most a battle moves a rating. The page and the API's field descriptions say it.
ELO_K: Final = 4.0


@dataclass(frozen=True, kw_only=True)
class Standings:
    """A leaderboard with what a viewer needs around it."""

    board: Leaderboard  # Bradley–Terry with bootstrap CIs, rank by upper bound, matrices
    elo: dict[str, float]  # online Elo over the same battles, oldest first
    battles_by_source: dict[str, int]  # of the battles that passed the filters
    judge_models: list[str]  # every judge with battles, whatever the filters: the choices
    categories: list[str]
    latest: datetime | None  # newest battle that passed the filters
    # The board's ids (board.models) → readable names, unique on this board.
    names: dict[str, str] = field(default_factory=dict)
    # With style control: the style-controlled fit (``board`` is then its leaderboard).
    style: StyleControlled | None = None
    # The judges whose verdicts passed the filters (``judge_models`` are all of them).
    judges_in_view: list[str] = field(default_factory=list)


def load_battles(
    database: Database, *, unit: Unit = "model", include_imported: bool = False, with_styles: bool = False
) -> list[Battle]:
    """Every battle the stored votes and judgments give, oldest first; votes restored by an
    import only with ``include_imported`` (anyone may import a file: it must not rank models);
    with the two answers' styles (for style control) only ``with_styles``."""
    if unit not in UNITS:
        raise InvalidInput(f"rate by one of {', '.join(UNITS)}, got {unit!r}")
    with database.session() as session:
        signals = signal_store.battle_signals(session, include_imported=include_imported)
        styles = AnswerStyles.load(session, signals) if with_styles else AnswerStyles()
    return derive_battles(signals, unit=unit, styles=styles)


def standings(
    battles: list[Battle],
    *,
    source: Source | None = None,
    judge_model: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rounds: int = 1000,
    seed: int = 0,
    unit: Unit = "model",
    style_control: bool = False,
) -> Standings:
    """Filter the battles, then rate them; a time without a zone is read as UTC. ``unit`` says
    what the battles' sides are (as ``load_battles`` was asked), so they can be named. With
    ``style_control`` the ratings hold the answers' style equal (``style``), over the battles
    whose answers' styles are known."""
    if not 0 <= rounds <= MAX_ROUNDS:
        raise InvalidInput(f"rounds must be between 0 and {MAX_ROUNDS}, got {rounds}")
    since, until = utc(since), utc(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must come before until")
    selected = filter_battles(
        battles, source=source, judge_model=judge_model, category=category, since=since, until=until
    )
    style = style_controlled(selected, rounds=rounds, seed=seed) if style_control else None
    # what the table rates: with style control, the battles whose two answers' styles are known
    rated = [b for b in selected if b.style_a is not None and b.style_b is not None] if style_control else selected
    counted = Counter(battle.source for battle in rated)
    board = style.board if style is not None else leaderboard(selected, rounds=rounds, seed=seed)
    return Standings(
        board=board,
        elo=online_elo(selected, k=ELO_K),
        battles_by_source={name: counted.get(name, 0) for name in SOURCES},
        judge_models=sorted({b.judge_model for b in battles if b.judge_model}),
        categories=sorted({b.category for b in battles if b.category}),
        latest=max((b.timestamp for b in selected if b.timestamp), default=None),
        names=names_for(board.models, unit=unit),
        style=style,
        # With style control only battles whose answers are known are fitted: only their judges count.
        judges_in_view=sorted(
            {b.judge_model for b in selected if b.judge_model and (style is None or None not in (b.style_a, b.style_b))}
        ),
    )


def derived_standings(
    database: Database,
    *,
    unit: Unit = "model",
    include_imported: bool = False,
    source: Source | Literal["all"] | None = None,
    style_control: bool = False,
    **filters: Any,
) -> Standings:
    """The leaderboard derived from every vote and verdict on this read (``all`` sources is no
    source filter): what ``stored.stored_standings`` gives from the stored battles, the slow way
    (and the way style control goes: it needs each battle's two answers)."""
    battles = load_battles(database, unit=unit, include_imported=include_imported, with_styles=style_control)
    return standings(battles, source=None if source == "all" else source, unit=unit, style_control=style_control, **filters)


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def derive_battles(signals: BattleSignals, *, unit: Unit = "model", styles: AnswerStyles | None = None) -> list[Battle]:
    """All battles, oldest first (the order online Elo reads them in); the rules are ``battle_rows``';
    with the answers' styles that ``styles`` knows."""
    battles = []
    for row in battle_rows(signals):
        side_a, side_b = (row.model_a, row.model_b) if unit == "model" else (row.instance_a, row.instance_b)
        if side_a != side_b:
            battles.append(
                Battle(
                    model_a=side_a,
                    model_b=side_b,
                    outcome=row.outcome,  # type: ignore[arg-type]
                    source=row.source,  # type: ignore[arg-type]
                    judge_model=row.judge_model,
                    category=row.category,
                    timestamp=row.counts_at,
                    **(styles.of_row(row) if styles is not None else {}),
                )
            )
    return battles
