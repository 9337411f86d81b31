"""The leaderboard from the stored battles: pair totals counted by the database, then rated.

``standings.derived_standings`` derives every battle from the votes and verdicts on each read;
this gives the same leaderboard (a test compares them on varied data) from the ``battles``
table that ``storage/battles.py`` keeps in step: one ``GROUP BY`` per pair, outcome, source,
judge and category (two with a time window: the judge and category choices ignore it), so the
Bradley–Terry fit and its bootstrap see counts, never a million battle objects. Online Elo
alone needs every battle in order; it reads them as bare tuples.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

import numpy as np

from arena.errors import InvalidInput
from arena.evaluation.ratings.fit import elo_of_sequence, leaderboard_of_counts
from arena.evaluation.ratings.names import names_for
from arena.evaluation.ratings.pairs import OUTCOME_CODES, SOURCES, PairCounts, Source, counts_from_arrays
from arena.evaluation.ratings.standings import ELO_K, MAX_ROUNDS, UNITS, Standings, Unit, utc
from arena.storage import battles as battle_store
from arena.storage.battles import PairTotal
from arena.storage.db import Database


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
) -> Standings:
    """The leaderboard as the API and the CLI ask for it (``all`` sources is no source filter);
    a time without a zone is read as UTC."""
    if unit not in UNITS:
        raise InvalidInput(f"rate by one of {', '.join(UNITS)}, got {unit!r}")
    if not 0 <= rounds <= MAX_ROUNDS:
        raise InvalidInput(f"rounds must be between 0 and {MAX_ROUNDS}, got {rounds}")
    since, until = utc(since), utc(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must come before until")
    wanted = None if source == "all" else source
    by_instance = unit == "instance"
    with database.session() as session:
        every = battle_store.pair_totals(session, by_instance=by_instance, include_imported=include_imported)
        windowed = every
        if since is not None or until is not None:
            windowed = battle_store.pair_totals(
                session, by_instance=by_instance, include_imported=include_imported, since=since, until=until
            )
        selected = [
            total
            for total in windowed
            if (wanted is None or total.source == wanted)
            and (judge_model is None or total.judge_model == judge_model)
            and (category is None or total.category == category)
        ]
        elo = elo_of_sequence(
            battle_store.ordered_battles(
                session,
                by_instance=by_instance,
                include_imported=include_imported,
                source=wanted,
                judge_model=judge_model,
                category=category,
                since=since,
                until=until,
            ),
            k=ELO_K,
        )
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
        latest=max((t.latest for t in selected), default=None),
        names=names_for(board.models, unit=unit),
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
