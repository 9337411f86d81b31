"""The messages each instance sees, in process: history limit, its own earlier answers, the system prompt.

`plan_turn` writes nothing and `prepare_regenerate` only reads, so these run against a database
seeded with the builders; no server and no model.
"""

from __future__ import annotations

import pytest

from arena.engines.base import Message
from arena.errors import InvalidInput
from arena.evaluation.conversation.compare import Target
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.conversation.turns import build_messages, plan_turn, prepare_regenerate
from arena.storage.db import Database
from tests.support.builders import SeededTurn, seed_turn

LLAMA, QWEN, PHI = (
    ModelInstance(model="ollama:llama3.2:1b"),
    ModelInstance(model="ollama:qwen2.5:0.5b"),
    ModelInstance(model="ollama:phi3:mini"),
)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


def system(text: str) -> Message:
    return Message(role="system", content=text)


def two_turns(database: Database) -> tuple[SeededTurn, SeededTurn]:
    """Two answered turns; each instance answered in its own words."""
    models = [LLAMA.model, QWEN.model]
    first = seed_turn(database, models=models, texts=["llama one", "qwen one"], prompt="Q1")
    second = seed_turn(
        database, models=models, texts=["llama two", "qwen two"], prompt="Q2", conversation_id=first.conversation_id
    )
    return first, second


def by_instance(targets: list[Target]) -> dict[str, list[Message]]:
    return {t.instance_id: t.messages for t in targets}


# --- build_messages: one shared list of messages -----------------------------------------------


def test_the_history_is_cut_to_the_newest_messages_with_the_system_prompt_kept_first() -> None:
    history = [system("Be brief."), user("1"), assistant("2"), user("3"), assistant("4")]

    messages = build_messages(history=history, message="5", system=None, history_limit=3)

    assert messages == [system("Be brief."), user("3"), assistant("4"), user("5")]


def test_a_given_system_prompt_replaces_the_historys_and_a_blank_one_means_none() -> None:
    history = [system("Old rules."), user("hi")]
    assert build_messages(history=history, message=None, system="New rules.", history_limit=10) == [
        system("New rules."),
        user("hi"),
    ]
    assert build_messages(history=[], message="hi", system="  ", history_limit=10) == [user("hi")]


def test_no_message_or_a_last_message_not_from_the_user_is_refused() -> None:
    with pytest.raises(InvalidInput, match="No messages"):
        build_messages(history=[system("rules")], message="  ", system=None, history_limit=10)
    with pytest.raises(InvalidInput, match="last message must come from the user"):
        build_messages(history=[user("hi"), assistant("hello")], message=None, system=None, history_limit=10)


# --- plan_turn: what each instance is sent ------------------------------------------------------


def test_a_new_conversation_sends_every_instance_the_same_messages_in_the_order_asked(database: Database) -> None:
    plan = plan_turn(
        database=database,
        instances=[QWEN, LLAMA],
        history=[],
        message="Why is the sky blue?",
        system="Answer in one line.",
        conversation_id=None,
        history_limit=10,
    )

    assert [t.instance_id for t in plan.targets] == [QWEN.instance_id, LLAMA.instance_id]
    expected = [system("Answer in one line."), user("Why is the sky blue?")]
    assert all(t.messages == expected for t in plan.targets)
    assert (plan.user_text, plan.system_text, plan.title) == (
        "Why is the sky blue?",
        "Answer in one line.",
        "Why is the sky blue?",
    )


def test_continuing_a_conversation_each_instance_sees_its_own_earlier_answers(database: Database) -> None:
    first, _ = two_turns(database)

    plan = plan_turn(
        database=database,
        instances=[LLAMA, QWEN],
        history=[],
        message="Q3",
        system="Be brief.",
        conversation_id=first.conversation_id,
        history_limit=10,
    )

    sent = by_instance(plan.targets)
    assert sent[LLAMA.instance_id] == [
        system("Be brief."),
        user("Q1"),
        assistant("llama one"),
        user("Q2"),
        assistant("llama two"),
        user("Q3"),
    ]
    assert sent[QWEN.instance_id] == [
        system("Be brief."),
        user("Q1"),
        assistant("qwen one"),
        user("Q2"),
        assistant("qwen two"),
        user("Q3"),
    ]


def test_the_history_limit_cuts_each_instances_own_context_but_keeps_the_system_prompt(database: Database) -> None:
    first, _ = two_turns(database)

    plan = plan_turn(
        database=database,
        instances=[LLAMA, QWEN],
        history=[],
        message="Q3",
        system="Be brief.",
        conversation_id=first.conversation_id,
        history_limit=3,
    )

    assert by_instance(plan.targets)[QWEN.instance_id] == [
        system("Be brief."),
        user("Q2"),
        assistant("qwen two"),
        user("Q3"),
    ]


def test_a_history_sent_by_the_client_is_what_every_instance_sees(database: Database) -> None:
    first, _ = two_turns(database)
    history = [user("earlier"), assistant("as the client remembers it")]

    plan = plan_turn(
        database=database,
        instances=[LLAMA, QWEN],
        history=history,
        message="Q3",
        system=None,
        conversation_id=first.conversation_id,
        history_limit=10,
    )

    assert all(t.messages == [*history, user("Q3")] for t in plan.targets)


def test_targets_follow_the_conversations_display_order_with_newcomers_last(database: Database) -> None:
    first, _ = two_turns(database)

    plan = plan_turn(
        database=database,
        instances=[PHI, QWEN, LLAMA],
        history=[],
        message="Q3",
        system=None,
        conversation_id=first.conversation_id,
        history_limit=10,
    )

    assert [t.instance_id for t in plan.targets] == [LLAMA.instance_id, QWEN.instance_id, PHI.instance_id]
    # A newcomer sees the earlier questions, never another instance's answers.
    assert by_instance(plan.targets)[PHI.instance_id] == [user("Q1"), user("Q2"), user("Q3")]


def test_a_regenerate_sees_only_the_turns_before_the_one_it_answers_again(database: Database) -> None:
    _, second = two_turns(database)

    prepared = prepare_regenerate(database=database, turn_id=second.turn_id, key=QWEN.instance_id, history_limit=10)

    (target,) = prepared.targets
    assert target.instance_id == QWEN.instance_id
    assert target.messages == [user("Q1"), assistant("qwen one"), user("Q2")]
