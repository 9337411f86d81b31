"""A value in every encrypted column, written the way the arena writes them, and read back:
the storage tests and `arena db rekey`'s tests check that each survives encryption unchanged.

    seeded = seed_everything(database)
    assert read_everything(database, seeded) == EXPECTED
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from arena.storage import bench as bench_store
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from tests.support.builders import add_conversation_with_instances

# Long and distinctive, so finding one in the raw data cannot be a coincidence. The title is
# the longest a title may be: stored encrypted it is far longer than the VARCHAR(200) of old.
SECRETS = {
    "title": ("Lighthouse keeper's diary " * 8)[:200],
    "system": "You are a discreet archivist of northern lighthouses.",
    "user_text": "Where did the keeper hide the brass telescope?",
    "attachment": "ledger entry: the telescope rests under the third stair",
    "answer": "Beneath the spiral staircase, wrapped in oiled sailcloth.",
    "rationale": "Answer A names the staircase precisely and B guesses.",
    "reference": "Under the third stair of the spiral staircase.",
    "bench_system": "Answer as a weary harbour master would.",
    "bench_prompt": "How many gulls nest on the breakwater in spring?",
    "bench_answer": "Roughly four hundred pairs, give or take a storm.",
    "bench_detail": "The first answer counts the gulls; the second sings.",
    "bench_error": "the judge wrote: both answers smell of herring",
    "response_error": "the engine refused: 'Where did the keeper hide…'",
    "run_name": "Quarterly gull census for the harbour board",
    "prompt_set": "harbour-board confidential questions",
    "prompt_file": "harbour_board_confidential.jsonl",
    "item_category": "breakwater-ornithology",
    "pair_category": "lantern-gallery-pairings",
    "judge_category": "keeper-telescope-questions",
    "vote_category": "foghorn-repair-estimates",
    "item_error": "the model stopped: 'How many gulls nest on the…'",
    "raw_key_a": "draft-from-legal-department",
    "raw_key_b": "draft-from-marketing-agency",
}


@dataclass
class Seeded:
    conversation_id: str
    turn_id: int
    run_id: str


def seed_everything(database: Database) -> Seeded:
    """One value in every encrypted column, written the way the arena writes them."""
    with database.session() as session:
        conversation, (first, second) = add_conversation_with_instances(session, title=SECRETS["title"])
        turn = repository.add_turn(
            session,
            conversation_id=conversation.id,
            user_text=SECRETS["user_text"],
            system=SECRETS["system"],
            attachments=[{"filename": "ledger.txt", "size": 55, "text": SECRETS["attachment"]}],
        )
        response = repository.start_response(session, turn_id=turn.id, instance_id=first)
        repository.update_response_text(session, response_id=response.id, text=SECRETS["answer"][:20])
        repository.finish_response(session, response_id=response.id, text=SECRETS["answer"], status="ok")
        vote_store.add_vote(
            session,
            conversation_id=conversation.id,
            turn_id=turn.id,
            kind="thumb",
            value="up",
            response_id=response.id,
            category=SECRETS["vote_category"],
        )
        failed = repository.start_response(session, turn_id=turn.id, instance_id=second)
        repository.finish_response(
            session, response_id=failed.id, text="", status="error", error=SECRETS["response_error"]
        )
        raw = json.dumps({"explanation": SECRETS["rationale"], "verdict": "A"})
        judgment_store.add_judgment(
            session,
            run_id="r" * 32,
            judge_model="ollama:judge:7b",
            mode="pairwise",
            key_a=first,
            key_b=second,
            raw_ab=raw,
            raw_ba=raw,
            verdict_ab="A",
            verdict_ba="B",
            winner="a",
            consistent=True,
            parsed={"ab": {"explanation": SECRETS["rationale"]}},
            reference=SECRETS["reference"],
            conversation_id=conversation.id,
            turn_id=turn.id,
            category=SECRETS["judge_category"],
        )
        judgment_store.add_judgment(  # a raw judgment: the caller named the answers
            session,
            run_id="s" * 32,
            judge_model="ollama:judge:7b",
            mode="pairwise",
            key_a=SECRETS["raw_key_a"],
            key_b=SECRETS["raw_key_b"],
            raw_ab=raw,
            raw_ba=raw,
            verdict_ab="A",
            verdict_ba="B",
            winner="a",
            consistent=True,
        )
        run = bench_store.create_run(
            session,
            name=SECRETS["run_name"],
            prompt_set_name=SECRETS["prompt_set"],
            prompt_file=SECRETS["prompt_file"],
            prompt_set_sha256="0" * 64,
            prompt_count=1,
            instances=[{"instance_id": first}],
            judge=None,
            system=SECRETS["bench_system"],
            repeats=1,
            concurrency=1,
            seed=1,
            items=[
                {
                    "position": 0,
                    "prompt_id": "p1",
                    "category": SECRETS["item_category"],
                    "turns": [SECRETS["bench_prompt"]],
                    "reference": [SECRETS["reference"]],
                    "answers": [SECRETS["bench_answer"]],
                    "instance_id": first,
                    "model": "local:smollm2-135m-instruct",
                    "repeat": 0,
                    "seed": 1,
                    "error": SECRETS["item_error"],
                }
            ],
            judgments=[
                {
                    "prompt_id": "p1",
                    "category": SECRETS["pair_category"],
                    "repeat": 0,
                    "instance_a": first,
                    "instance_b": second,
                    "detail": {"explanation": SECRETS["bench_detail"]},
                    "error": SECRETS["bench_error"],
                }
            ],
        )
    return Seeded(conversation_id=conversation.id, turn_id=turn.id, run_id=run.id)


def read_everything(database: Database, seeded: Seeded) -> dict[str, Any]:
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=seeded.conversation_id)
        [turn] = repository.list_turns(session, conversation_id=seeded.conversation_id)
        [judgment] = judgment_store.list_judgments(session, turn_id=seeded.turn_id)
        [raw_judgment] = judgment_store.list_judgments(session, run_id="s" * 32)
        run = bench_store.get_run(session, run_id=seeded.run_id)
        [item] = bench_store.list_items(session, run_id=seeded.run_id)
        [pair] = bench_store.list_judgments(session, run_id=seeded.run_id)
        return {
            "title": conversation.title,
            "system": turn.system,
            "user_text": turn.user_text,
            "attachments": turn.attachments,
            "answer": [r.text for r in turn.responses],
            "errors": [r.error for r in turn.responses],
            "judgment": (judgment.raw_ab, judgment.raw_ba, judgment.parsed, judgment.reference, judgment.category),
            "raw_keys": (raw_judgment.key_a, raw_judgment.key_b),
            "vote_category": [v.category for v in vote_store.list_votes(session, turn_id=seeded.turn_id)],
            "bench": (run.system, item.turns, item.reference, item.answers, pair.detail, pair.error),
            "bench_names": (run.name, run.prompt_set_name, run.prompt_file, item.category, pair.category, item.error),
        }


EXPECTED = {
    "title": SECRETS["title"],
    "system": SECRETS["system"],
    "user_text": SECRETS["user_text"],
    "attachments": [{"filename": "ledger.txt", "size": 55, "text": SECRETS["attachment"]}],
    "answer": [SECRETS["answer"], ""],
    "errors": [None, SECRETS["response_error"]],
    "judgment": (
        json.dumps({"explanation": SECRETS["rationale"], "verdict": "A"}),
        json.dumps({"explanation": SECRETS["rationale"], "verdict": "A"}),
        {"ab": {"explanation": SECRETS["rationale"]}},
        SECRETS["reference"],
        SECRETS["judge_category"],
    ),
    "raw_keys": (SECRETS["raw_key_a"], SECRETS["raw_key_b"]),
    "vote_category": [SECRETS["vote_category"]],
    "bench": (
        SECRETS["bench_system"],
        [SECRETS["bench_prompt"]],
        [SECRETS["reference"]],
        [SECRETS["bench_answer"]],
        {"explanation": SECRETS["bench_detail"]},
        SECRETS["bench_error"],
    ),
    "bench_names": (
        SECRETS["run_name"],
        SECRETS["prompt_set"],
        SECRETS["prompt_file"],
        SECRETS["item_category"],
        SECRETS["pair_category"],
        SECRETS["item_error"],
    ),
}
