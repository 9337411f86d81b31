"""Small builders for the records tests need: instances, conversations, answered turns, votes, verdicts.

They write through the storage layer directly, so a test can seed a state without generating text."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from arena.engines.base import SamplingOptions
from arena.evaluation.conversation.instances import instance_id
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import Conversation, Instance


def add_instance(session: Session, *, model: str = "local:smollm2-135m-instruct", temperature: float = 0.7) -> Instance:
    return repository.upsert_instance(
        session,
        instance_id=f"{model}__{temperature}_0.9_40_1.1_-1_0",
        model=model,
        temperature=temperature,
        top_p=0.9,
        top_k=40,
        repeat_penalty=1.1,
        num_predict=-1,
        seed=0,
    )


def add_conversation_with_instances(
    session: Session, *, title: str = "Compare", blind: bool = False, count: int = 2
) -> tuple[Conversation, list[str]]:
    """A conversation with ``count`` instances labelled Model A, Model B, ..."""
    conversation = repository.create_conversation(session, title=title, blind=blind)
    instance_ids = [add_instance(session, temperature=round(0.1 * (n + 1), 1)).id for n in range(count)]
    labels = [f"Model {chr(ord('A') + n)}" for n in range(count)]
    repository.set_conversation_instances(
        session, conversation_id=conversation.id, instance_ids=instance_ids, labels=labels
    )
    return conversation, instance_ids


@dataclass(frozen=True)
class SeededTurn:
    conversation_id: str
    turn_id: int
    instance_ids: list[str]
    response_ids: list[int]


def seed_turn(
    database: Database,
    *,
    models: list[str],
    texts: list[str] | None = None,
    temperatures: list[float] | None = None,
    blind: bool = False,
    prompt: str = "What is the capital of France?",
    conversation_id: str | None = None,
) -> SeededTurn:
    """A conversation turn answered by one instance of each model (status ok), without generating."""
    texts = texts or [f"answer from {model}" for model in models]
    temperatures = temperatures or [0.7] * len(models)
    with database.session() as session:
        if conversation_id is None:
            conversation_id = repository.create_conversation(session, title=prompt[:50], blind=blind).id
        ids = []
        for model, temperature in zip(models, temperatures, strict=True):
            options = SamplingOptions(temperature=temperature)
            iid = instance_id(model, options)
            repository.upsert_instance(session, instance_id=iid, model=model, **options.model_dump())
            ids.append(iid)
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        known = [m.instance_id for m in sorted(conversation.instances, key=lambda m: m.position)]
        if set(ids) - set(known):
            everyone = known + [i for i in ids if i not in known]
            repository.set_conversation_instances(
                session,
                conversation_id=conversation_id,
                instance_ids=everyone,
                labels=[f"Model {chr(ord('A') + n)}" for n in range(len(everyone))],
            )
        turn = repository.add_turn(session, conversation_id=conversation_id, user_text=prompt)
        responses = []
        for iid, text in zip(ids, texts, strict=True):
            response = repository.start_response(session, turn_id=turn.id, instance_id=iid)
            repository.finish_response(session, response_id=response.id, text=text, status="ok")
            responses.append(response.id)
        return SeededTurn(conversation_id, turn.id, ids, responses)


def pairwise_vote(database: Database, turn: SeededTurn, value: str, *, first: int = 0, second: int = 1) -> None:
    with database.session() as session:
        vote_store.add_vote(
            session,
            conversation_id=turn.conversation_id,
            turn_id=turn.turn_id,
            kind="pairwise",
            value=value,
            instance_a=turn.instance_ids[first],
            instance_b=turn.instance_ids[second],
        )


def thumb(database: Database, turn: SeededTurn, index: int, value: str, *, voter_id: int | None = None) -> None:
    with database.session() as session:
        vote_store.add_vote(
            session,
            conversation_id=turn.conversation_id,
            turn_id=turn.turn_id,
            kind="thumb",
            value=value,
            response_id=turn.response_ids[index],
            voter_id=voter_id,
        )


def judged_pair(
    database: Database,
    turn: SeededTurn,
    *,
    winner: str,
    judge: str = "ollama:judge",
    verdict_ab: str = "A",
    verdict_ba: str = "A",
    **extra,
) -> None:
    """A pairwise verdict on the turn's first two instances, each order's verdict as given."""
    with database.session() as session:
        judgment_store.add_judgment(
            session,
            run_id="0" * 32,
            judge_model=judge,
            mode="pairwise",
            conversation_id=turn.conversation_id,
            turn_id=turn.turn_id,
            key_a=turn.instance_ids[0],
            key_b=turn.instance_ids[1],
            raw_ab="{}",
            raw_ba="{}",
            verdict_ab=verdict_ab,
            verdict_ba=verdict_ba,
            winner=winner,
            consistent=winner != "tie" or verdict_ab == verdict_ba == "tie",
            **extra,
        )
