"""The answers behind the leaderboard's battles, for style control: which answer each signal was
about, and its text, read only for answers a caller has not already seen.

Plain functions over a ``Session``. Every answer is named by an ``AnswerKey`` that changes if
its row could have changed: a response by id and start time (SQLite may reuse the id of a
deleted last row), a benchmark item by id and finish time (a retried item finishes anew).
Texts may be stored encrypted, so nothing here is computed in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.storage.bench_models import BenchItem, BenchJudgment
from arena.storage.models import Judgment, Response

_T = TypeVar("_T")
AnswerKey = tuple[str, int, datetime | None]  # ("response" | "bench", row id, its stamp)


@dataclass(frozen=True, kw_only=True)
class BattleAnswers:
    """Which answers the signals were about, as keys; None-free: an unknown answer is absent."""

    latest: dict[tuple[int, str], AnswerKey]  # (turn id, instance id) → its latest answer in that turn
    responses: dict[int, AnswerKey]  # response id → key, for thumbs and verdicts that name answers
    judged: dict[int, tuple[int | None, int | None]]  # judgment id → its response_a_id, response_b_id
    bench: dict[int, dict[str, AnswerKey]]  # a benchmark verdict's id → instance id → that item's answers


def battle_answers(
    session: Session,
    *,
    turn_ids: Iterable[int],
    response_ids: Iterable[int],
    judgment_ids: Iterable[int],
    bench_judgment_ids: Iterable[int],
) -> BattleAnswers:
    """The answers of the given turns (latest per instance), responses and verdicts, as keys.

    A response still streaming has no final text and is left out."""
    latest: dict[tuple[int, str], AnswerKey] = {}
    for chunk in _chunks(sorted(set(turn_ids))):
        rows = session.execute(
            select(Response.id, Response.turn_id, Response.instance_id, Response.started_at)
            .where(Response.turn_id.in_(chunk), Response.status != "streaming")
            .order_by(Response.id)
        )
        for response_id, turn_id, instance_id, started_at in rows:  # later rounds overwrite
            latest[(turn_id, instance_id)] = ("response", response_id, started_at)
    judged: dict[int, tuple[int | None, int | None]] = {}
    for chunk in _chunks(sorted(set(judgment_ids))):
        rows = session.execute(
            select(Judgment.id, Judgment.response_a_id, Judgment.response_b_id).where(Judgment.id.in_(chunk))
        )
        judged.update((judgment_id, (a, b)) for judgment_id, a, b in rows)
    wanted = set(response_ids) | {answer for pair in judged.values() for answer in pair if answer is not None}
    responses: dict[int, AnswerKey] = {}
    for chunk in _chunks(sorted(wanted)):
        rows = session.execute(
            select(Response.id, Response.started_at).where(Response.id.in_(chunk), Response.status != "streaming")
        )
        responses.update((response_id, ("response", response_id, started)) for response_id, started in rows)
    return BattleAnswers(
        latest=latest, responses=responses, judged=judged, bench=_bench_answers(session, set(bench_judgment_ids))
    )


def answer_texts(session: Session, keys: Iterable[AnswerKey]) -> dict[AnswerKey, str]:
    """The text of each answer: a response's text, a benchmark item's turns' answers joined."""
    keys = list(keys)
    found: dict[AnswerKey, str] = {}
    by_response = {key[1]: key for key in keys if key[0] == "response"}
    for chunk in _chunks(sorted(by_response)):
        for response_id, text in session.execute(select(Response.id, Response.text).where(Response.id.in_(chunk))):
            found[by_response[response_id]] = text or ""
    by_item = {key[1]: key for key in keys if key[0] == "bench"}
    for chunk in _chunks(sorted(by_item)):
        for item_id, answers in session.execute(select(BenchItem.id, BenchItem.answers).where(BenchItem.id.in_(chunk))):
            found[by_item[item_id]] = "\n\n".join(answer for answer in answers or [] if isinstance(answer, str))
    return found


def _bench_answers(session: Session, judgment_ids: set[int]) -> dict[int, dict[str, AnswerKey]]:
    """A benchmark verdict's two answers: its bench_judgments row names the prompt and repeat (the
    verdict's id sits in the row's encrypted detail), and the items of that prompt hold the answers."""
    if not judgment_ids:
        return {}
    run_ids: set[str] = set()
    for chunk in _chunks(sorted(judgment_ids)):
        run_ids.update(session.scalars(select(Judgment.run_id).where(Judgment.id.in_(chunk))))
    places: dict[int, tuple[str, str, int, str, str]] = {}
    items: dict[tuple[str, str, int, str], AnswerKey] = {}
    for chunk in _chunks(sorted(run_ids)):
        rows = session.execute(
            select(BenchJudgment.run_id, BenchJudgment.prompt_id, BenchJudgment.repeat, BenchJudgment.instance_a,
                   BenchJudgment.instance_b, BenchJudgment.detail)
            .where(BenchJudgment.run_id.in_(chunk), BenchJudgment.status == "done")
        )  # fmt: skip
        for run_id, prompt_id, repeat, instance_a, instance_b, detail in rows:
            judgment_id = (detail or {}).get("judgment_id") if isinstance(detail, dict) else None
            if isinstance(judgment_id, int) and judgment_id in judgment_ids:
                places[judgment_id] = (run_id, prompt_id, repeat, instance_a, instance_b)
        done = session.execute(
            select(BenchItem.id, BenchItem.run_id, BenchItem.prompt_id, BenchItem.repeat, BenchItem.instance_id,
                   BenchItem.finished_at)
            .where(BenchItem.run_id.in_(chunk), BenchItem.status == "done")
        )  # fmt: skip
        for item_id, run_id, prompt_id, repeat, instance_id, finished_at in done:
            items[(run_id, prompt_id, repeat, instance_id)] = ("bench", item_id, finished_at)
    found: dict[int, dict[str, AnswerKey]] = {}
    for judgment_id, (run_id, prompt_id, repeat, *instances) in places.items():
        found[judgment_id] = {
            instance: items[(run_id, prompt_id, repeat, instance)]
            for instance in instances
            if (run_id, prompt_id, repeat, instance) in items
        }
    return found


def _chunks(values: list[_T], size: int = 500) -> list[list[_T]]:
    """Bounded IN lists: SQLite limits how many parameters one statement may have."""
    return [values[i : i + size] for i in range(0, len(values), size)]
