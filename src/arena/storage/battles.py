"""The stored battles: kept in step with the votes and verdicts, read back as pair totals.

Every write that can change what a conversation's signals give (a vote, a re-vote, a cleared
vote, a verdict, the reveal) calls ``refresh_conversation``: it derives that conversation's
battles again (``battle_rows``, the rules the derive-on-read path uses too), with and without
imported data, and applies the difference, so rows that did not change keep their place.
Deleting a conversation cascades to its battles. A benchmark run's verdict stands alone
(``refresh_verdict``); its grades pair up within the run and are derived again together.

``rebuild`` derives the whole table from the signals: after migration 0024 (``BattleState``
says so, and ``Database.migrate`` runs it under the migration lock) and for bulk loads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, delete, func, insert, literal, select, text, true
from sqlalchemy.orm import Session

from arena.storage.battle_models import (
    EVERY_VIEW,
    WITH_IMPORTED_ONLY,
    WITHOUT_IMPORTED_ONLY,
    BattleCategory,
    BattleChange,
    BattleState,
    StoredBattle,
)
from arena.storage.battle_rows import GRADES, BattleRow, battle_rows
from arena.storage.battle_signals import BattleSignals, battle_signals
from arena.storage.bench_models import BenchRun
from arena.storage.models import Conversation, Vote

_INSERT_BATCH: Final = 5000
_PENDING: Final = "battles.pending"  # session.info: conversations to refresh at the end
_KEEP_CHANGES: Final = 10_000  # the change log's length: a reader further behind reads everything again
_BEGINNING: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ROW_FIELDS: Final = tuple(field for field in BattleRow.__dataclass_fields__ if field != "category")


@dataclass(frozen=True, kw_only=True, slots=True)
class PairTotal:
    """How many battles of one kind there are between two sides, and the newest one's time."""

    source: str
    judge_model: str | None
    category: str | None
    side_a: str
    side_b: str
    outcome: str
    count: int
    latest: datetime


# --- keeping the table in step ------------------------------------------------------------


@contextmanager
def refreshed_once(session: Session) -> Iterator[None]:
    """Inside: each conversation's battles are derived once, at the end (an import writing a
    thousand votes), rather than after every vote."""
    pending: set[str] = set()
    session.info[_PENDING] = pending
    try:
        yield
    finally:
        del session.info[_PENDING]
    for conversation_id in sorted(pending):
        refresh_conversation(session, conversation_id=conversation_id)


def refresh_conversation(session: Session, *, conversation_id: str) -> None:
    """Derive one conversation's battles again and store the difference."""
    if _PENDING in session.info:
        session.info[_PENDING].add(conversation_id)
        return
    session.flush()
    every = battle_rows(battle_signals(session, include_imported=True, conversation_id=conversation_id))
    if session.scalar(select(Conversation.imported).where(Conversation.id == conversation_id)):
        clean: list[BattleRow] = []  # nothing of an imported conversation counts unless asked for
    elif session.scalar(select(Vote.id).where(Vote.conversation_id == conversation_id, Vote.imported).limit(1)) is None:
        clean = every  # no imported data in it: the same battles either way
    else:
        clean = battle_rows(battle_signals(session, include_imported=False, conversation_id=conversation_id))
    _apply(session, _with_views(clean=clean, every=every), StoredBattle.conversation_id == conversation_id)


def refresh_verdict(session: Session, *, judgment_id: int, run_id: str, pairwise: bool) -> None:
    """Store the battles a new verdict about no stored turn gives: none unless it is a benchmark
    run's. A pairwise one is a battle of its own; a grade pairs with the run's other grades."""
    session.flush()
    if session.get(BenchRun, run_id) is None:
        return  # a raw prompt's verdict never counts
    if pairwise:
        found = battle_rows(battle_signals(session, include_imported=True, judgment_id=judgment_id))
        _insert(session, [(row, EVERY_VIEW) for row in found])
        _log_change(session, [row.counts_at for row in found])
        return
    signals = battle_signals(session, include_imported=True, run_id=run_id)
    grades = BattleSignals(
        pairwise_votes=[], thumbs=[], judgments=[j for j in signals.judgments if j.mode != "pairwise"]
    )
    scope = and_(StoredBattle.run_id == run_id, StoredBattle.kind == GRADES)
    _apply(session, [(row, EVERY_VIEW) for row in battle_rows(grades)], scope)


def rebuild(session: Session) -> int:
    """Derive every battle again from the signals (a whole-table backfill); returns how many rows."""
    session.flush()
    session.execute(delete(StoredBattle))
    every = battle_rows(battle_signals(session, include_imported=True))
    imported = session.scalar(select(Conversation.id).where(Conversation.imported).limit(1)) or session.scalar(
        select(Vote.id).where(Vote.imported).limit(1)
    )
    clean = battle_rows(battle_signals(session, include_imported=False)) if imported is not None else every
    rows = _with_views(clean=clean, every=every)
    _insert(session, rows)
    _log_change(session, [_BEGINNING])
    state = session.get(BattleState, 1)
    if state is not None:
        state.rebuild = False
    session.flush()
    return len(rows)


def rebuild_if_needed(session: Session) -> bool:
    """Rebuild when a migration asked for it (the table was new); whether it did."""
    state = session.get(BattleState, 1)
    if state is None or not state.rebuild:
        return False
    rebuild(session)
    return True


def _with_views(*, clean: list[BattleRow], every: list[BattleRow]) -> list[tuple[BattleRow, int]]:
    """Each battle once with the leaderboards it belongs to: without imported data, with it, or both."""
    without, with_ = Counter(clean), Counter(every)
    rows: list[tuple[BattleRow, int]] = []
    for row in sorted(without.keys() | with_.keys(), key=lambda found: found.order):
        shared = min(without[row], with_[row])
        rows += [(row, EVERY_VIEW)] * shared
        rows += [(row, WITHOUT_IMPORTED_ONLY)] * (without[row] - shared)
        rows += [(row, WITH_IMPORTED_ONLY)] * (with_[row] - shared)
    return rows


def _apply(session: Session, wanted: list[tuple[BattleRow, int]], scope: ColumnElement[bool]) -> None:
    names = _category_names(session)
    stored: dict[tuple[BattleRow, int], list[int]] = {}
    columns = [getattr(StoredBattle, name) for name in _ROW_FIELDS]
    for found in session.execute(
        select(StoredBattle.id, StoredBattle.view, StoredBattle.category_id, *columns).where(scope)
    ):
        row = BattleRow(category=names.get(found.category_id), **{name: getattr(found, name) for name in _ROW_FIELDS})
        stored.setdefault((row, found.view), []).append(found.id)
    missing = []
    for key in wanted:
        ids = stored.get(key)
        if ids:
            ids.pop()
        else:
            missing.append(key)
    gone = [(row, battle_id) for (row, _), ids in stored.items() for battle_id in ids]
    for start in range(0, len(gone), 500):
        chunk = [battle_id for _, battle_id in gone[start : start + 500]]
        session.execute(delete(StoredBattle).where(StoredBattle.id.in_(chunk)))
    _insert(session, missing)
    _log_change(session, [row.counts_at for row, _ in gone] + [row.counts_at for row, _ in missing])


def forget_conversation(session: Session, *, conversation_id: str) -> None:
    """Before a conversation is deleted (its battles go with it): note the change for online Elo."""
    earliest = session.scalar(
        select(func.min(StoredBattle.counts_at)).where(StoredBattle.conversation_id == conversation_id)
    )
    _log_change(session, [] if earliest is None else [earliest])


def _log_change(session: Session, touched: list[datetime]) -> None:
    if not touched:
        return
    if session.get_bind().dialect.name == "postgresql":
        # Changes commit in the order of their ids (SQLite has one writer at a time anyway), so a
        # reader that saw change N has seen every change before it.
        session.execute(text("LOCK TABLE battle_changes IN EXCLUSIVE MODE"))
    change = BattleChange(earliest=min(touched))
    session.add(change)
    session.flush()
    if change.id % 1000 == 0:  # now and then, forget what no reader can still need
        session.execute(delete(BattleChange).where(BattleChange.id <= change.id - _KEEP_CHANGES))


def last_change(session: Session) -> int:
    """The newest change's id (0 before any)."""
    return session.scalar(select(func.max(BattleChange.id))) or 0


def only_later_changes(session: Session, *, seen: int, after: datetime) -> bool:
    """Whether every change since change ``seen`` touched only battles later than ``after`` (so
    what was read up to ``after`` still stands); False when the log no longer reaches back to
    change ``seen`` (pruned, or the rows were emptied behind the log's back)."""
    if seen == 0 or session.get(BattleChange, seen) is None:
        return False
    first, earliest = session.execute(
        select(func.min(BattleChange.id), func.min(BattleChange.earliest)).where(BattleChange.id > seen)
    ).one()
    if first is None:
        return True
    kept_from = session.scalar(select(func.min(BattleChange.id)))
    return kept_from is not None and kept_from <= seen + 1 and earliest > after


def _insert(session: Session, rows: Sequence[tuple[BattleRow, int]]) -> None:
    category_ids = _category_ids(session, {row.category for row, _ in rows if row.category is not None})
    for start in range(0, len(rows), _INSERT_BATCH):
        values = [
            {
                **{name: getattr(row, name) for name in _ROW_FIELDS},
                "category_id": None if row.category is None else category_ids[row.category],
                "view": view,
            }
            for row, view in rows[start : start + _INSERT_BATCH]
        ]
        session.execute(insert(StoredBattle), values)


def _category_names(session: Session) -> dict[int, str]:
    """Every category's id → name (decrypted in Python: a category may be stored encrypted)."""
    return dict(session.execute(select(BattleCategory.id, BattleCategory.name)).all())


def _category_ids(session: Session, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    known = {name: category_id for category_id, name in sorted(_category_names(session).items())}
    for name in sorted(names - known.keys()):
        category = BattleCategory(name=name)
        session.add(category)
        session.flush()
        known[name] = category.id
    return known


# --- reading -------------------------------------------------------------------------------


def pair_totals(
    session: Session,
    *,
    by_instance: bool,
    include_imported: bool,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PairTotal]:
    """Battle counts per kind (source, judge, category), pair of sides and outcome, and the
    newest battle's time; sides are instances or models (a model against itself is left out)."""
    side_a, side_b = _sides(by_instance)
    names = _category_names(session)
    statement = (
        select(
            StoredBattle.source,
            StoredBattle.judge_model,
            StoredBattle.category_id,
            side_a,
            side_b,
            StoredBattle.outcome,
            func.count(),
            func.max(StoredBattle.counts_at),
        )
        .where(_counted(by_instance=by_instance, include_imported=include_imported, since=since, until=until))
        .group_by(
            StoredBattle.source,
            StoredBattle.judge_model,
            StoredBattle.category_id,
            side_a,
            side_b,
            StoredBattle.outcome,
        )
    )
    return [
        PairTotal(
            source=source,
            judge_model=judge,
            category=names.get(category_id) if category_id is not None else None,
            side_a=a,
            side_b=b,
            outcome=outcome,
            count=count,
            latest=latest,
        )
        for source, judge, category_id, a, b, outcome, count, latest in session.execute(statement)
    ]


def ordered_battles(
    session: Session,
    *,
    by_instance: bool,
    include_imported: bool,
    source: str | None = None,
    judge_model: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: datetime | None = None,
    up_to: datetime | None = None,
) -> Iterator[tuple[str, str, str]]:
    """(side A, side B, outcome) of every battle that passes the filters, in reading order;
    only those later than ``after`` and no later than ``up_to`` when given."""
    side_a, side_b = _sides(by_instance)
    where = [_counted(by_instance=by_instance, include_imported=include_imported, since=since, until=until)]
    if source is not None:
        where.append(StoredBattle.source == source)
    if judge_model is not None:
        where.append(StoredBattle.judge_model == judge_model)
    if category is not None:
        where.append(StoredBattle.category_id.in_(_ids_named(session, category)))
    if after is not None:
        where.append(StoredBattle.counts_at > after)
    if up_to is not None:
        where.append(StoredBattle.counts_at <= up_to)
    statement = (
        select(side_a, side_b, StoredBattle.outcome)
        .where(*where)
        .order_by(StoredBattle.counts_at, StoredBattle.kind, StoredBattle.group_key, StoredBattle.position)
    )
    # through the Core connection: the ORM session would build each row again (a third of the time)
    yield from session.connection().execute(statement.execution_options(yield_per=20_000))  # type: ignore[misc]


def ordered_battles_of_kinds(
    session: Session, *, by_instance: bool, include_imported: bool, after: datetime | None, up_to: datetime, timed: bool
) -> Iterator[tuple[str, str, str, str, str | None, str | None, datetime | None]]:
    """(side A, side B, outcome, source, judge, category, time or None unless ``timed``) of every
    battle later than ``after`` up to ``up_to``, in reading order: one scan rates every view at
    once (ratings/elo_views.py); reading no times saves parsing a million of them."""
    side_a, side_b = _sides(by_instance)
    names = _category_names(session)
    where = [
        _counted(by_instance=by_instance, include_imported=include_imported, since=None, until=None),
        StoredBattle.counts_at <= up_to,
    ]
    if after is not None:
        where.append(StoredBattle.counts_at > after)
    time = StoredBattle.counts_at if timed else literal(None)
    statement = (
        select(side_a, side_b, StoredBattle.outcome, StoredBattle.source, StoredBattle.judge_model,
               StoredBattle.category_id, time)
        .where(*where)
        .order_by(StoredBattle.counts_at, StoredBattle.kind, StoredBattle.group_key, StoredBattle.position)
    )  # fmt: skip
    # through the Core connection: the ORM session would build each row again (a third of the time)
    rows = session.connection().execute(statement.execution_options(yield_per=20_000))
    for a, b, outcome, source, judge, category_id, at in rows:
        yield a, b, outcome, source, judge, None if category_id is None else names.get(category_id), at


def _ids_named(session: Session, category: str) -> list[int]:
    return [category_id for category_id, name in _category_names(session).items() if name == category]


def _sides(by_instance: bool) -> tuple[Any, Any]:
    return (
        (StoredBattle.instance_a, StoredBattle.instance_b)
        if by_instance
        else (StoredBattle.model_a, StoredBattle.model_b)
    )


def _counted(
    *, by_instance: bool, include_imported: bool, since: datetime | None, until: datetime | None
) -> ColumnElement[bool]:
    views = (EVERY_VIEW, WITH_IMPORTED_ONLY) if include_imported else (EVERY_VIEW, WITHOUT_IMPORTED_ONLY)
    conditions: list[ColumnElement[bool]] = [StoredBattle.view.in_(views)]
    if not by_instance:
        conditions.append(StoredBattle.model_a != StoredBattle.model_b)
    if since is not None:
        conditions.append(StoredBattle.counts_at >= since)
    if until is not None:
        conditions.append(StoredBattle.counts_at < until)
    return and_(true(), *conditions)
