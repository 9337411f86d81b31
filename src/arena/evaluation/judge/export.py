"""A conversation's stored verdicts for its exports, shown as the conversation may be shown:
while it is blind and not revealed, answers are named by their labels only."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from arena.evaluation.conversation.verdicts import TurnVerdicts, VerdictOrder, VerdictView
from arena.evaluation.judge.records import Disclosure, disclosure_of
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.models import Judgment


def turn_verdicts(database: Database, *, conversation_id: str) -> TurnVerdicts:
    """Every verdict about the conversation's turns, by turn id, oldest first."""
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        labels = {member.instance_id: member.blind_label for member in conversation.instances}
        disclosure = disclosure_of(session, conversation_id=conversation_id)
        chains = _answer_chains(session, conversation_id=conversation_id)
        by_turn: defaultdict[int, list[VerdictView]] = defaultdict(list)
        for row in judgment_store.conversation_judgments(session, conversation_id=conversation_id):
            if row.turn_id is not None:
                by_turn[row.turn_id].append(_view(row, disclosure, labels, chains))
    return dict(by_turn)


def _answer_chains(session: Session, *, conversation_id: str) -> dict[tuple[int, str], list[int]]:
    """(turn id, instance id) -> that instance's answers to the turn, oldest first (as exported)."""
    chains: defaultdict[tuple[int, str], list[int]] = defaultdict(list)
    for turn in repository.list_turns(session, conversation_id=conversation_id):
        for response in turn.responses:
            chains[(turn.id, response.instance_id)].append(response.id)
    return dict(chains)


def _view(
    row: Judgment, disclosure: Disclosure, labels: dict[str, str], chains: dict[tuple[int, str], list[int]]
) -> VerdictView:
    def answer(key: str | None, response_id: int | None) -> int | None:
        chain = chains.get((row.turn_id or 0, key or ""), [])
        return chain.index(response_id) if response_id in chain else None

    def label(key: str | None) -> str | None:
        # Every candidate of a stored turn is one of the conversation's instances; anything
        # else is shown as the disclosure shows keys, never as a model.
        return None if key is None else labels.get(key) or disclosure.key(key)

    def order(swapped: bool) -> VerdictOrder:
        parsed = (row.parsed or {}).get("ba" if swapped else "ab")
        explanation = parsed.get("explanation") if isinstance(parsed, dict) else parsed
        first, second = (row.key_b, row.key_a) if swapped else (row.key_a, row.key_b)
        return VerdictOrder(
            shown_as_a=label(first) or "",
            shown_as_b=label(second),
            verdict=row.verdict_ba if swapped else row.verdict_ab,
            score=row.score if row.mode != "pairwise" else None,
            explanation=explanation if isinstance(explanation, str) else None,
            read_by=parsed.get("read_by") if isinstance(parsed, dict) else None,
            raw=(row.raw_ba if swapped else row.raw_ab) or "",
        )

    assert row.turn_id is not None
    return VerdictView(
        turn_id=row.turn_id,
        run_id=row.run_id,
        judge_model=row.judge_model,
        cloud=row.cloud,
        mode=row.mode,
        category=row.category,
        created_at=row.created_at,
        key_a=disclosure.key(row.key_a) or "",
        key_b=disclosure.key(row.key_b),
        label_a=label(row.key_a) or "",
        label_b=label(row.key_b),
        winner=row.winner,
        consistent=row.consistent,
        score=row.score,
        answer_a=answer(row.key_a, row.response_a_id),
        answer_b=answer(row.key_b, row.response_b_id),
        about_earlier_answer=disclosure.about_earlier_answer(row),
        orders=[order(False)] + ([order(True)] if row.mode == "pairwise" else []),
    )
