"""The leaderboard from the stored battles: pair totals counted by the database, then rated.

``standings.derived_standings`` derives every battle from the votes and verdicts on each read;
this gives the same leaderboard (a test compares them on varied data) from the ``battles``
table that ``storage/battles.py`` keeps in step: one ``GROUP BY`` per pair, outcome, source,
judge and category (two with a time window: the judge and category choices ignore it), so the
Bradley–Terry fit and its bootstrap see counts, never a million battle objects. Online Elo
alone needs every battle in order: each process keeps, per view, the ratings it read up to the
newest battle, and goes on from there while every change since (``battles.only_later_changes``)
came after that battle, as new votes do; a re-vote or a delete of an older battle reads all again.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import numpy as np
from sqlalchemy.orm import Session

from arena.errors import InvalidInput
from arena.evaluation.ratings.elo_views import View, common_views, elo_of_views, is_common
from arena.evaluation.ratings.fit import elo_of_sequence, leaderboard_of_counts
from arena.evaluation.ratings.names import names_for
from arena.evaluation.ratings.pairs import OUTCOME_CODES, SOURCES, PairCounts, Source, counts_from_arrays
from arena.evaluation.ratings.standings import ELO_K, MAX_ROUNDS, UNITS, Standings, Unit, derived_standings, utc
from arena.evaluation.ratings.style import check_style_work
from arena.storage import battles as battle_store
from arena.storage.battles import PairTotal
from arena.storage.db import Database

logger = logging.getLogger(__name__)

_ELO_VIEWS: Final = 64  # views whose online Elo a process keeps


@dataclass(frozen=True)
class _EloRead:
    seen: int  # the newest change when it was read
    up_to: datetime  # the newest battle read
    ratings: dict[str, float]


# Per database object (a test's fresh database may reuse a URL), the views read most recently.
_elo_reads: weakref.WeakKeyDictionary[Database, OrderedDict[tuple[object, ...], _EloRead]] = weakref.WeakKeyDictionary()
_elo_lock = threading.Lock()
_common_lock = threading.Lock()


def stored_standings(
    database: Database,
    *,
    unit: Unit = "model",
    include_imported: bool = False,
    source: Source | Literal["all"] | None = None,
    judge_model: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rounds: int = 1000,
    seed: int = 0,
    style_control: bool = False,
) -> Standings:
    """The leaderboard as the API and the CLI ask for it (``all`` sources is no source filter);
    a time without a zone is read as UTC. Style control needs every battle's two answers: it is
    derived on read (``standings.derived_standings``)."""
    if unit not in UNITS:
        raise InvalidInput(f"rate by one of {', '.join(UNITS)}, got {unit!r}")
    if not 0 <= rounds <= MAX_ROUNDS:
        raise InvalidInput(f"rounds must be between 0 and {MAX_ROUNDS}, got {rounds}")
    since, until = utc(since), utc(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must come before until")
    wanted = None if source == "all" else source
    by_instance = unit == "instance"
    if style_control:
        with database.session() as session:  # refused from the stored count before minutes of work
            totals = battle_store.pair_totals(
                session, by_instance=by_instance, include_imported=include_imported, since=since, until=until
            )
        check_style_work(sum(t.count for t in _selected(totals, wanted, judge_model, category)), rounds)
        return derived_standings(
            database, unit=unit, include_imported=include_imported, source=source, judge_model=judge_model,
            category=category, since=since, until=until, rounds=rounds, seed=seed, style_control=True,
        )  # fmt: skip
    with database.session() as session:
        every = battle_store.pair_totals(session, by_instance=by_instance, include_imported=include_imported)
        windowed = every
        if since is not None or until is not None:
            windowed = battle_store.pair_totals(
                session, by_instance=by_instance, include_imported=include_imported, since=since, until=until
            )
        selected = _selected(windowed, wanted, judge_model, category)
        latest = max((t.latest for t in selected), default=None)
        view = (by_instance, include_imported, wanted, judge_model, category, since, until)
        with _elo_lock:
            reads = _elo_reads.setdefault(database, OrderedDict())
        elo = _online_elo(session, reads, view, latest, every)
    board = leaderboard_of_counts(counts_of_totals(selected), rounds=rounds, seed=seed)
    counted: Counter[str] = Counter()
    for total in selected:
        counted[total.source] += total.count
    return Standings(
        board=board,
        elo=elo,
        battles_by_source={name: counted.get(name, 0) for name in SOURCES},
        judge_models=sorted({t.judge_model for t in every if t.judge_model}),
        categories=sorted({t.category for t in every if t.category}),
        latest=latest,
        names=names_for(board.models, unit=unit),
        judges_in_view=sorted({t.judge_model for t in selected if t.judge_model}),
    )


def _selected(
    totals: list[PairTotal], source: str | None, judge_model: str | None, category: str | None
) -> list[PairTotal]:
    return [
        total
        for total in totals
        if (source is None or total.source == source)
        and (judge_model is None or total.judge_model == judge_model)
        and (category is None or total.category == category)
    ]


def _online_elo(
    session: Session,
    reads: OrderedDict[tuple[object, ...], _EloRead],
    view: View,
    latest: datetime | None,
    every: list[PairTotal],
) -> dict[str, float]:
    """Online Elo of one view's battles up to ``latest``, going on from this process's last read
    of the view when the battles it read are still there, unchanged. A common view read from
    the start is read with all the others (``elo_views``): the next ones cost nothing."""
    seen = battle_store.last_change(session)
    with _elo_lock:
        known = reads.get(view)
    if latest is None:
        return {}
    if known is not None and known.seen == seen and known.up_to == latest:
        return dict(known.ratings)
    go_on = known is not None and battle_store.only_later_changes(session, seen=known.seen, after=known.up_to)
    if not go_on and is_common(view):
        with _common_lock:  # a read already under way (the warm-up) is waited for, not repeated
            with _elo_lock:
                known = reads.get(view)
            if known is not None and known.seen == seen and known.up_to == latest:
                return dict(known.ratings)
            read = _read_common(session, reads, by_instance=view[0], include_imported=view[1], every=every, seen=seen)
        if read is not None and view in read:
            return dict(read[view])
    start = known.ratings if known is not None and go_on else {}
    by_instance, include_imported, source, judge_model, category, since, until = view
    battles = battle_store.ordered_battles(
        session,
        by_instance=bool(by_instance),
        include_imported=bool(include_imported),
        source=source,  # type: ignore[arg-type]
        judge_model=judge_model,  # type: ignore[arg-type]
        category=category,  # type: ignore[arg-type]
        since=since,  # type: ignore[arg-type]
        until=until,  # type: ignore[arg-type]
        after=known.up_to if known is not None and go_on else None,
        up_to=latest,
    )
    ratings = elo_of_sequence(battles, k=ELO_K, start=start)
    with _elo_lock:
        reads[view] = _EloRead(seen=seen, up_to=latest, ratings=ratings)
        reads.move_to_end(view)
        while len(reads) > _ELO_VIEWS:
            reads.popitem(last=False)
    return dict(ratings)


def _read_common(
    session: Session,
    reads: OrderedDict[tuple[object, ...], _EloRead],
    *,
    by_instance: bool,
    include_imported: bool,
    every: list[PairTotal],
    seen: int,
    stop: threading.Event | None = None,
) -> dict[View, dict[str, float]] | None:
    """Every common view's online Elo in one scan, kept for the next reads (``seen`` read before ``every``)."""
    views = common_views(by_instance=by_instance, include_imported=include_imported, totals=every)
    rated = elo_of_views(session, by_instance=by_instance, include_imported=include_imported, views=views, stop=stop)
    if rated is None:
        return None
    with _elo_lock:
        for view, ratings in rated.items():
            reads[view] = _EloRead(seen=seen, up_to=views[view], ratings=ratings)
            reads.move_to_end(view)
        while len(reads) > _ELO_VIEWS:
            reads.popitem(last=False)
    return rated


def warm(database: Database, stop: threading.Event) -> None:
    """Read the common views' online Elo (by model, then by instance) so that the first
    leaderboard requests after a start find it; gives up when ``stop`` is set. A failure is
    only logged: a request reads what it needs itself."""
    try:
        _warm(database, stop)
    except Exception:  # a warm-up is an optimisation: never a reason to fail
        logger.warning("could not read the leaderboard's online Elo ahead", exc_info=True)


def _warm(database: Database, stop: threading.Event) -> None:
    for by_instance in (False, True):
        if stop.is_set():
            return
        with database.session() as session:
            seen = battle_store.last_change(session)
            every = battle_store.pair_totals(session, by_instance=by_instance, include_imported=False)
            with _elo_lock:
                reads = _elo_reads.setdefault(database, OrderedDict())
            with _common_lock:
                _read_common(
                    session, reads, by_instance=by_instance, include_imported=False, every=every, seen=seen, stop=stop
                )


def counts_of_totals(totals: list[PairTotal]) -> PairCounts:
    """Pair counts from the database's totals; models sorted by name, as ``pairs.aggregate`` does."""
    models = sorted({t.side_a for t in totals} | {t.side_b for t in totals})
    index = {model: position for position, model in enumerate(models)}
    return counts_from_arrays(
        models=models,
        model_a=np.array([index[t.side_a] for t in totals], dtype=np.intp),
        model_b=np.array([index[t.side_b] for t in totals], dtype=np.intp),
        outcome=np.array([OUTCOME_CODES[t.outcome] for t in totals], dtype=np.intp),
        weights=np.array([t.count for t in totals], dtype=np.int64),
    )
