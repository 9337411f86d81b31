"""A judge run from and into storage: the candidates of a stored turn, the recorded verdicts.

A stored turn's candidates are the answers the page shows: the latest answer of each instance
(an instance whose latest answer was stopped or failed is left out, never replaced by an older
one); their keys are instance ids, and each verdict records the response ids it judged, so after
a regenerate it is marked as about an earlier answer (and kept: it still compared two answers). In a blind conversation that has not been revealed, what the caller sees
names candidates by their blind labels ("Model A") and never by instance or model, and a
baseline is named by its label only, so asking a judge cannot unblind a conversation; the rows
themselves keep the instance ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from arena.engines.base import SamplingOptions
from arena.errors import InvalidInput, NotFound
from arena.evaluation.conversation.view import resolve_key
from arena.evaluation.judge.task import Candidate, JudgeOutcome, JudgeTask, Mode, Reading
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.models import Judgment
from arena.storage.ownership import Reader


@dataclass(frozen=True, kw_only=True)
class Disclosure:
    """How candidates are shown: their keys and models, or only blind labels."""

    labels: dict[str, str] = field(default_factory=dict)  # key -> blind label, when hidden
    models: dict[str, str] = field(default_factory=dict)  # instance id -> model id, when shown
    latest: dict[tuple[int, str], int] = field(default_factory=dict)  # (turn, instance id) -> latest answer

    def about_earlier_answer(self, row: Judgment) -> bool:
        """Whether a verdict judged an answer that a regenerate has since replaced."""
        if row.turn_id is None:
            return False
        judged = ((row.key_a, row.response_a_id), (row.key_b, row.response_b_id))
        return any(
            response_id is not None and self.latest.get((row.turn_id, key or ""), response_id) != response_id
            for key, response_id in judged
        )

    def key(self, key: str | None) -> str | None:
        return None if key is None else self.labels.get(key, key)

    def model(self, key: str | None) -> str | None:
        return None if key is None or key in self.labels else self.models.get(key)


@dataclass(frozen=True, kw_only=True)
class TurnTask:
    conversation_id: str
    turn_id: int
    task: JudgeTask
    disclosure: Disclosure
    answers: dict[str, int]  # candidate key (instance id) -> the response id judged


def new_run_id() -> str:
    return uuid.uuid4().hex


def turn_task(
    database: Database,
    *,
    conversation_id: str,
    turn_id: int,
    mode: Mode,
    reference: str | None,
    baseline: str | None,
) -> TurnTask:
    """The judge task for a stored turn: its question and each instance's latest answer, when it
    finished ok (the page shows that answer; a stopped or failed one is not judged)."""
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        turn = repository.get_turn(session, turn_id=turn_id)
        if turn.conversation_id != conversation_id:
            raise InvalidInput(f"turn {turn_id} is not part of conversation {conversation_id!r}")
        members = sorted(conversation.instances, key=lambda member: member.position)
        latest = turn.latest_responses()
        shown = [latest[m.instance_id] for m in members if m.instance_id in latest]
        answers = {answer.instance_id: answer.id for answer in shown if answer.status == "ok"}
        candidates = [
            Candidate(key=answer.instance_id, text=answer.text) for answer in shown if answer.instance_id in answers
        ]
        hidden = conversation.is_masked
        labels = {member.instance_id: member.blind_label for member in members}
        disclosure = Disclosure(
            labels=labels if hidden else {},
            models={} if hidden else {member.instance_id: member.instance.model for member in members},
        )
        prompt, system = turn.user_text, turn.system
        if baseline is not None:
            # The rule votes and regenerate follow: while masked, only a label names an answer, and
            # an instance id gets the same error as any unknown key (ids are guessable).
            try:
                baseline = resolve_key(conversation, baseline).instance_id
            except NotFound as exc:
                raise InvalidInput(f"baseline: {exc}") from None
    finished = len(candidates)
    why = "the judge takes each model's latest answer, and a stopped or failed one is not judged (regenerate it)"
    if mode == "pairwise" and finished < 2:
        raise InvalidInput(
            f"turn {turn_id} has {finished} latest answer(s) that finished; pairwise judging needs two: {why}"
        )
    if finished == 0:
        raise InvalidInput(f"turn {turn_id} has no latest answer that finished, so nothing to grade: {why}")
    if baseline is not None and baseline not in {c.key for c in candidates}:
        raise InvalidInput(f"the baseline's latest answer in this turn did not finish: {why}")
    task = JudgeTask(
        mode=mode, prompt=prompt, system=system, candidates=candidates, reference=reference, baseline=baseline
    )
    return TurnTask(conversation_id=conversation_id, turn_id=turn_id, task=task, disclosure=disclosure, answers=answers)


def record_outcome(
    database: Database,
    *,
    outcome: JudgeOutcome,
    run_id: str,
    options: SamplingOptions,
    reference: str | None,
    category: str | None,
    conversation_id: str | None = None,
    turn_id: int | None = None,
    owner_id: int | None = None,
    answers: dict[str, int] | None = None,
) -> list[Judgment]:
    """Store every verdict of one run in one transaction: all of them or none.

    A raw-prompt run belongs to ``owner_id`` (who ran it); one about a stored turn follows its
    conversation, so no owner is recorded for it. ``answers`` (candidate key -> response id, from
    ``turn_task``) says which answers each verdict judged."""
    judged = answers or {}
    common: dict[str, Any] = {
        "run_id": run_id,
        "owner_id": owner_id if conversation_id is None else None,
        "judge_model": outcome.judge_model,
        "cloud": outcome.cloud,
        "mode": outcome.mode,
        "conversation_id": conversation_id,
        "turn_id": turn_id,
        "category": category,
        "reference": reference,
        "options": options.model_dump(),
    }
    with database.session() as session:
        rows = [
            judgment_store.add_judgment(
                session,
                **common,
                key_a=pair.key_a,
                key_b=pair.key_b,
                response_a_id=judged.get(pair.key_a),
                response_b_id=judged.get(pair.key_b),
                raw_ab=pair.ab.raw,
                raw_ba=pair.ba.raw,
                verdict_ab=pair.ab.verdict,
                verdict_ba=pair.ba.verdict,
                parsed=parsed_readings(pair.ab, pair.ba),
                winner=pair.winner,
                consistent=pair.consistent,
            )
            for pair in outcome.pairs
        ]
        rows += [
            judgment_store.add_judgment(
                session,
                **common,
                key_a=grade.key,
                response_a_id=judged.get(grade.key),
                raw_ab=grade.reading.raw,
                parsed=parsed_readings(grade.reading),
                score=grade.score,
            )
            for grade in outcome.grades
        ]
    return rows


def parsed_readings(ab: Reading, ba: Reading | None = None) -> dict[str, Any]:
    """What was read from each order, as a judgment row's ``parsed``: {"ab": {...}, "ba": {...}}."""

    def detail(reading: Reading) -> dict[str, Any]:
        fields = {"verdict": reading.verdict, "score": reading.score}
        return {
            **{k: v for k, v in fields.items() if v is not None},
            "explanation": reading.explanation,
            "read_by": reading.read_by,
        }

    return {"ab": detail(ab)} | ({"ba": detail(ba)} if ba is not None else {})


def stored_judgments(
    database: Database,
    *,
    conversation_id: str | None,
    turn_id: int | None,
    run_id: str | None,
    judge_model: str | None,
    limit: int,
    reader: Reader | None = None,
) -> tuple[list[Judgment], dict[str, Disclosure]]:
    """Judgments matching the filters that ``reader`` may see (None: all), and how to show each
    conversation's candidates."""
    with database.session() as session:
        if conversation_id is not None:
            repository.get_conversation(session, conversation_id=conversation_id)  # 404 when unknown
        rows = judgment_store.list_judgments(
            session,
            conversation_id=conversation_id,
            turn_id=turn_id,
            run_id=run_id,
            judge_model=judge_model,
            limit=limit,
            reader=reader,
        )
        disclosures = {
            cid: disclosure_of(session, conversation_id=cid) for cid in {r.conversation_id for r in rows} if cid
        }
    return rows, disclosures


def as_stored_now(database: Database, disclosure: Disclosure, *, conversation_id: str) -> Disclosure:
    """``disclosure`` with the conversation's latest answers read now, when a run's verdicts are
    answered: a regenerate that finished while the judge ran makes them about an earlier answer."""
    with database.session() as session:
        return replace(disclosure, latest=latest_answers(session, conversation_id=conversation_id))


def disclosure_of(session: Any, *, conversation_id: str) -> Disclosure:
    conversation = repository.get_conversation(session, conversation_id=conversation_id)
    latest = latest_answers(session, conversation_id=conversation_id)
    if conversation.is_masked:
        return Disclosure(labels={m.instance_id: m.blind_label for m in conversation.instances}, latest=latest)
    return Disclosure(models={m.instance_id: m.instance.model for m in conversation.instances}, latest=latest)


def latest_answers(session: Any, *, conversation_id: str) -> dict[tuple[int, str], int]:
    """(turn id, instance id) -> the id of that instance's latest answer to the turn."""
    latest: dict[tuple[int, str], int] = {}
    for turn in repository.list_turns(session, conversation_id=conversation_id):
        for instance_id, response in turn.latest_responses().items():
            latest[(turn.id, instance_id)] = response.id
    return latest
