"""Paired per-prompt comparison of two contestants: exact sign-test p-values worked out by hand,
a simulated truth the bootstrap recovers, the prompts still needed, and `arena bench compare`
over stored runs (two quantizations against one baseline, and two instances within a run)."""

from __future__ import annotations

import json
import random
from math import comb

import numpy as np
import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.errors import InvalidInput
from arena.evaluation.bench.compare import PromptDifference, compare, prompts_needed, sign_test
from arena.evaluation.bench.compare_runs import compare_runs, describe
from arena.evaluation.bench.plan import instance_record
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage.bench_models import BenchJudgment, BenchRun
from arena.storage.db import Database

pytestmark = pytest.mark.timeout(60)

Q4, Q8 = ModelInstance(model="ollama:qwen:q4"), ModelInstance(model="ollama:qwen:q8")
BASELINE = ModelInstance(model="ollama:baseline")


@pytest.mark.parametrize(
    ("better_a", "better_b", "expected"),
    [
        (8, 2, 2 * (comb(10, 0) + comb(10, 1) + comb(10, 2)) / 2**10),  # 112/1024 = 0.109375
        (9, 1, 22 / 1024),
        (10, 0, 2 / 1024),
        (1, 5, 2 * (1 + 6) / 64),
        (5, 5, 1.0),
    ],
)
def test_the_sign_test_is_the_exact_two_sided_binomial(better_a: int, better_b: int, expected: float) -> None:
    assert sign_test(better_a, better_b) == pytest.approx(expected, rel=1e-12)


def test_no_prompt_that_was_not_even_gives_no_p_value() -> None:
    assert sign_test(0, 0) is None


def test_prompts_needed_at_the_observed_mean_and_spread() -> None:
    # mean 0.2, sample sd sqrt(1.2), 80% power: ((1.96 + 0.8416) · 1.0954 / 0.2)² = 235.5 → 236, 231 more.
    values = [1.0, -1.0, 1.0, -1.0, 1.0]
    assert prompts_needed(values) == 236
    result = compare(
        [PromptDifference(prompt_id=str(i), difference=v) for i, v in enumerate(values)], a="a", b="b", basis="direct"
    )
    assert (result.better_a, result.better_b, result.even) == (3, 2, 0)
    assert not result.separated and result.more_prompts == 231
    assert result.cohens_dz == pytest.approx(0.2 / 1.2**0.5)


def test_prompts_needed_separate_them_four_times_in_five() -> None:
    # Outside pass 15: with 1.96 alone the prompts sufficed only half the time. Simulated prompt
    # differences of a known mean and spread, as many as prompts_needed says: a two-sided 5%
    # test of the mean finds the difference in about 80% of 2000 repeated benchmarks.
    rng = np.random.default_rng(7)
    mean, sd = 0.15, 0.6
    n = prompts_needed(list(rng.normal(mean, sd, 100_000)))
    assert n is not None and 120 <= n <= 130  # ((1.96 + 0.84) · 0.6 / 0.15)² = 125.6
    samples = rng.normal(mean, sd, size=(2000, n))
    z = samples.mean(axis=1) / (samples.std(axis=1, ddof=1) / np.sqrt(n))
    power = float(np.mean(np.abs(z) > 1.96))
    assert 0.76 <= power <= 0.84, power


def simulated(p_a: float, p_b: float, prompts: int, seed: int) -> list[PromptDifference]:
    """Per prompt A wins with p_a, B with p_b, else a tie: the true mean difference is p_a − p_b."""
    rng = random.Random(seed)
    out = []
    for number in range(prompts):
        draw = rng.random()
        value = 1.0 if draw < p_a else -1.0 if draw < p_a + p_b else 0.0
        out.append(PromptDifference(prompt_id=f"q{number}", difference=value))
    return out


def test_a_truly_better_contestant_is_separated_and_the_interval_covers_the_truth() -> None:
    result = compare(simulated(0.6, 0.2, 300, seed=3), a="a", b="b", basis="direct")
    assert result.separated and result.more_prompts == 0
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 0.4 < result.ci_high and result.ci_low > 0
    assert result.sign_test_p is not None and result.sign_test_p < 1e-6


def test_equal_contestants_are_not_separated() -> None:
    result = compare(simulated(0.4, 0.4, 60, seed=5), a="a", b="b", basis="direct")
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 0 < result.ci_high and not result.separated
    assert result.sign_test_p is not None and result.sign_test_p > 0.05


def judgment(
    run_id: str, prompt: int, a: ModelInstance, b: ModelInstance, outcome: str, orders: tuple[str, str] | None = None
) -> BenchJudgment:
    """`orders`: the judge's verdicts with A shown first and with B shown first ("A", "B", "tie")."""
    return BenchJudgment(
        detail={"judge_model": "local:judge", "verdict_ab": orders[0], "verdict_ba": orders[1]} if orders else None,
        run_id=run_id,
        prompt_id=f"q{prompt}",
        category=None,
        repeat=0,
        instance_a=a.instance_id,
        instance_b=b.instance_id,
        status="done",
        attempts=1,
        outcome=outcome,
    )


def add_run(database: Database, run_id: str, instances: list[ModelInstance], judgments: list[BenchJudgment]) -> None:
    with database.session() as session:
        session.add(
            BenchRun(
                id=run_id,
                name=run_id,
                status="done",
                prompt_set_name="set",
                prompt_set_sha256="ab" * 32,
                prompt_count=10,
                instances=[instance_record(i) for i in instances],
                repeats=1,
                concurrency=1,
                seed=1,
            )
        )
        session.flush()
        session.add_all(judgments)
        session.commit()


def seed_two_quantizations(database: Database) -> tuple[str, str]:
    """Ten prompts; q8 beats the baseline on the first 9, q4 on 4 (and ties one)."""
    run_a, run_b = "a" * 32, "b" * 32
    q4 = ["a", "a", "a", "tie", "b", "b", "b", "b", "b", "a"]
    q8 = ["a"] * 9 + ["b"]
    add_run(database, run_a, [Q4, BASELINE], [judgment(run_a, n, Q4, BASELINE, o) for n, o in enumerate(q4)])
    add_run(
        database,
        run_b,
        [Q8, BASELINE],
        [judgment(run_b, n, BASELINE, Q8, "b" if o == "a" else "a") for n, o in enumerate(q8)],
    )
    return run_a, run_b


def test_two_runs_are_paired_prompt_by_prompt_against_their_common_baseline(database: Database) -> None:
    run_a, run_b = seed_two_quantizations(database)

    result = compare_runs(database=database, run_a=run_b, run_b=run_a)  # q8 (A) against q4 (B)

    c = result.comparison
    assert (result.instance_a, result.instance_b) == (Q8.instance_id, Q4.instance_id)
    assert c.basis == "opponents" and c.prompts == 10
    # q8 − q4 per prompt: 0,0,0,+0.5,+1×5,−1 → A better on 6, B on 1, even on 3.
    assert (c.better_a, c.better_b, c.even) == (6, 1, 3)
    assert c.sign_test_p == pytest.approx(2 * (1 + 7) / 128)
    assert c.mean_difference == pytest.approx(0.45)
    assert result.notes == []


def test_instances_within_one_run_use_their_direct_verdicts(database: Database) -> None:
    run_id = "c" * 32
    outcomes = ["a"] * 7 + ["b"] * 2 + ["tie"]
    verdicts = [judgment(run_id, n, Q4, Q8, o) for n, o in enumerate(outcomes)]
    verdicts += [judgment(run_id, n, Q8, BASELINE, "a") for n in range(10)]
    add_run(database, run_id, [Q4, Q8, BASELINE], verdicts)

    result = compare_runs(database=database, run_a=run_id, instance_a=Q8.instance_id, instance_b="ollama:qwen:q4")

    c = result.comparison
    assert c.basis == "direct" and (c.better_a, c.better_b, c.even) == (2, 7, 1)
    assert c.sign_test_p == pytest.approx(2 * (1 + 9 + 36) / 512)
    with pytest.raises(InvalidInput, match="name both"):
        compare_runs(database=database, run_a=run_id)


def test_arena_bench_compare_prints_the_statistics(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    run_a, run_b = seed_two_quantizations(database)
    monkeypatch.setenv("DATABASE_URL", database.url.render_as_string(hide_password=False))
    runner = CliRunner()

    text = runner.invoke(app, ["bench", "compare", run_b[:6], run_a[:6]], env={"COLUMNS": "200"})
    as_json = runner.invoke(app, ["bench", "compare", run_b, run_a, "--json"])
    bad = runner.invoke(app, ["bench", "compare", run_a, "--instances", "nope", "ollama:baseline"])

    assert text.exit_code == 0, text.output
    assert "A better on 6, B better on 1, even on 3" in text.output
    assert "sign test (exact, two-sided): p = 0.125" in text.output
    assert "more)" in text.output  # 10 prompts do not separate them yet
    assert json.loads(as_json.output)["better_a"] == 6
    assert bad.exit_code == 2 and "no instance 'nope'" in bad.output


COLD = ModelInstance(model="local:smol", temperature=0.2)
WARM = ModelInstance(model="local:smol", temperature=0.9)


def test_instances_are_named_by_the_model_spec_and_an_ambiguous_model_lists_the_choices(database: Database) -> None:
    run_id = "d" * 32
    add_run(database, run_id, [COLD, WARM], [judgment(run_id, n, COLD, WARM, "a") for n in range(6)])

    result = compare_runs(
        database=database,
        run_a=run_id,
        instance_a="local:smol@temperature=0.9",
        instance_b="local:smol@temperature=0.2",
    )
    assert (result.instance_a, result.instance_b) == (WARM.instance_id, COLD.instance_id)
    with pytest.raises(InvalidInput, match="several instance 'local:smol'; name one of") as raised:
        compare_runs(database=database, run_a=run_id, instance_a="local:smol", instance_b=COLD.instance_id)
    assert "local:smol@temperature=0.2," in str(raised.value) and "local:smol@temperature=0.9," in str(raised.value)
    with pytest.raises(InvalidInput, match="no instance 'local:smol@temperature=0.5'"):
        compare_runs(
            database=database,
            run_a=run_id,
            instance_a="local:smol@temperature=0.5",
            instance_b="local:smol@temperature=0.2",
        )


def test_a_judge_that_flips_with_the_order_is_said_to_be_unable_to_tell(database: Database) -> None:
    # Outside pass 15: a judge that says "A" in both orders makes every prompt a tie, which read as
    # "no difference seen: more prompts would not separate them". 8 of 10 pairs flipped.
    run_id = "e" * 32
    orders = [("A", "A")] * 8 + [("A", "B"), ("tie", "tie")]
    verdicts = [judgment(run_id, n, COLD, WARM, "tie" if o[0] == o[1] or o == ("tie", "tie") else "a", o)
                for n, o in enumerate(orders)]  # fmt: skip
    add_run(database, run_id, [COLD, WARM], verdicts)

    result = compare_runs(database=database, run_a=run_id, instance_a=COLD.instance_id, instance_b=WARM.instance_id)

    assert (result.judged_pairs, result.flipped_pairs, result.judge_unreliable) == (10, 8, True)
    assert result.to_dict()["judge_unreliable"] is True and result.to_dict()["flipped_pairs"] == 8
    text = "\n".join(describe(result))
    assert "the judge could not tell them apart" in text and "on 8 of 10 pairs" in text
    assert "more prompts would not separate them" not in text
