"""Judging logic: both orders, flips as inconsistent ties, grades, baselines; no verdict is invented.

The judge here is a scripted stand-in (tests/support/doubles/scripted_judge.py) that reads the
prompt it is shown, like a real judge; the engines are exercised in test_judge_cloud.py and the API tests.
"""

from __future__ import annotations

import json
import re

import pytest

from arena.errors import EngineProtocolError, InvalidInput
from arena.evaluation.judge.task import Candidate, JudgeTask, combine_orders, run_judge
from tests.support.doubles.scripted_judge import ScriptedJudge

PARIS = Candidate(key="local:paris-model__0.7", text="The capital of France is Paris.")
BERLIN = Candidate(key="ollama:berlin-model__0.7", text="It is Berlin.")
LYON = Candidate(key="ollama:lyon-model__0.7", text="Lyon, probably.")
QUESTION = "What is the capital of France?"


def shown(prompt: str, label: str) -> str:
    return re.search(rf"\[The Start of Assistant \[{label}\]'s Answer\]\n(.*?)\n\[The End", prompt, re.S).group(1)


def prefers_paris(prompt: str) -> str:
    """A judge that reads the answers: the one naming Paris wins, wherever it stands."""
    label = "A" if "Paris" in shown(prompt, "A") else "B" if "Paris" in shown(prompt, "B") else "tie"
    return json.dumps({"explanation": "Paris is the capital.", "verdict": label})


def always_a(prompt: str) -> str:
    return json.dumps({"explanation": "The first one.", "verdict": "A"})


@pytest.mark.anyio
async def test_each_pair_is_judged_in_both_orders_and_a_consistent_verdict_wins() -> None:
    judge = ScriptedJudge(prefers_paris)
    task = JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[BERLIN, PARIS])

    outcome = await run_judge(task, judge=judge)

    [pair] = outcome.pairs
    assert (pair.key_a, pair.key_b) == (BERLIN.key, PARIS.key)
    assert (pair.ab.verdict, pair.ba.verdict) == ("B", "A")
    assert (pair.winner, pair.winner_key, pair.consistent) == ("b", PARIS.key, True)
    assert [shown(p, "A") for p in judge.prompts] == [BERLIN.text, PARIS.text]  # swapped
    assert [shown(p, "B") for p in judge.prompts] == [PARIS.text, BERLIN.text]
    assert judge.schemas[0]["properties"]["verdict"]["enum"] == ["A", "B", "tie"]


@pytest.mark.anyio
async def test_a_verdict_that_follows_the_position_is_a_tie_marked_inconsistent() -> None:
    outcome = await run_judge(
        JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS, BERLIN]), judge=ScriptedJudge(always_a)
    )

    [pair] = outcome.pairs
    assert (pair.ab.verdict, pair.ba.verdict) == ("A", "A")
    assert (pair.winner, pair.winner_key, pair.consistent) == ("tie", None, False)


@pytest.mark.parametrize(
    ("ab", "ba", "winner", "consistent"),
    [
        ("A", "B", "a", True),
        ("B", "A", "b", True),
        ("tie", "tie", "tie", True),
        ("A", "A", "tie", False),
        ("B", "B", "tie", False),
        ("A", "tie", "tie", False),
        ("tie", "B", "tie", False),
    ],
)
def test_combining_the_two_orders(ab: str, ba: str, winner: str, consistent: bool) -> None:
    assert combine_orders(ab, ba) == (winner, consistent)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_candidates_are_anonymous_to_the_judge() -> None:
    judge = ScriptedJudge(prefers_paris)
    await run_judge(
        JudgeTask(mode="pairwise", prompt=QUESTION, system="Answer in one line.", candidates=[PARIS, BERLIN]),
        judge=judge,
    )
    for prompt in judge.prompts:
        assert "paris-model" not in prompt and "berlin-model" not in prompt
        assert QUESTION in prompt and "Answer in one line." in prompt


@pytest.mark.anyio
async def test_without_a_baseline_every_two_answers_meet_and_with_one_each_meets_the_baseline() -> None:
    everyone = await run_judge(
        JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS, BERLIN, LYON]),
        judge=ScriptedJudge(prefers_paris),
    )
    assert [(p.key_a, p.key_b) for p in everyone.pairs] == [
        (PARIS.key, BERLIN.key),
        (PARIS.key, LYON.key),
        (BERLIN.key, LYON.key),
    ]
    assert [p.winner for p in everyone.pairs] == ["a", "a", "tie"]

    judge = ScriptedJudge(prefers_paris)
    against = await run_judge(
        JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS, BERLIN, LYON], baseline=LYON.key), judge=judge
    )
    assert [(p.key_a, p.key_b) for p in against.pairs] == [(LYON.key, PARIS.key), (LYON.key, BERLIN.key)]
    assert len(judge.prompts) == 4


@pytest.mark.anyio
async def test_single_grading_scores_each_answer_and_reference_grading_shows_the_reference() -> None:
    def grade(prompt: str) -> str:
        return (
            '{"explanation": "ok", "score": 9}'
            if "Paris." in prompt.split("Assistant's Answer]")[1]
            else "Rating: [[2]]"
        )

    judge = ScriptedJudge(grade)
    single = await run_judge(JudgeTask(mode="single", prompt=QUESTION, candidates=[PARIS, BERLIN]), judge=judge)
    assert [(g.key, g.score, g.reading.read_by) for g in single.grades] == [
        (PARIS.key, 9.0, "json"),
        (BERLIN.key, 2.0, "mt_bench"),
    ]
    assert "Reference Answer" not in judge.prompts[0]
    assert judge.schemas[0]["properties"]["score"]["enum"] == list(range(1, 11))

    judge = ScriptedJudge(grade)
    await run_judge(
        JudgeTask(mode="reference", prompt=QUESTION, candidates=[BERLIN], reference="Paris is the capital."),
        judge=judge,
    )
    assert "[The Start of Reference Answer]\nParis is the capital." in judge.prompts[0]


@pytest.mark.anyio
async def test_an_unreadable_answer_fails_the_whole_run_and_says_to_use_a_stronger_judge() -> None:
    calls = iter(['{"explanation": "x", "verdict": "A"}', "I like both of them!"])
    judge = ScriptedJudge(lambda _prompt: next(calls))

    with pytest.raises(EngineProtocolError, match="use a stronger judge model") as caught:
        await run_judge(JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS, BERLIN]), judge=judge)
    assert "I like both of them!" in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("task", "message"),
    [
        (JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS]), "at least two answers"),
        (JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS, PARIS]), "same key"),
        (JudgeTask(mode="reference", prompt=QUESTION, candidates=[PARIS]), "needs a reference"),
        (JudgeTask(mode="single", prompt=QUESTION, candidates=[PARIS], reference="Paris"), 'not "single"'),
        (JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[PARIS, BERLIN], baseline="nope"), "baseline"),
        (JudgeTask(mode="single", prompt=QUESTION, candidates=[PARIS], baseline=PARIS.key), "only used in pairwise"),
        (
            JudgeTask(mode="pairwise", prompt=QUESTION, candidates=[Candidate(key=str(n), text="x") for n in range(7)]),
            "name a baseline",
        ),
    ],
)
async def test_impossible_tasks_are_refused_before_the_judge_is_asked(task: JudgeTask, message: str) -> None:
    judge = ScriptedJudge(always_a)
    with pytest.raises(InvalidInput, match=message):
        await run_judge(task, judge=judge)
    assert judge.prompts == []
