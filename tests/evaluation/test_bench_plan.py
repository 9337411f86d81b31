"""What a benchmark run will do, decided before anything runs: items, seeds, pairs, model specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.errors import InvalidInput
from arena.evaluation.bench.plan import instance_record, plan_run, repeat_seed
from arena.evaluation.bench.prompt_sets import load_prompt_set, parse_prompt_set
from arena.evaluation.bench.report.data import instance_labels, model_spec
from arena.evaluation.bench.spec import BenchSpec, JudgeSpec, judge_instance, parse_model_spec
from arena.evaluation.conversation.instances import ModelInstance

PROMPTS = parse_prompt_set(
    b'{"id": "q1", "prompt": "One?", "category": "math"}\n'
    b'{"id": "q2", "turns": ["Two?", "And then?"], "category": "writing", "reference": ["2", "3"]}\n'
    b'{"id": "q3", "prompt": "Three?"}\n',
    filename="set.jsonl",
)
A = ModelInstance(model="ollama:a")
B = ModelInstance(model="ollama:b", temperature=0.2)
C = ModelInstance(model="ollama:c", seed=1234)
MT_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mt_bench_questions.jsonl"


def test_every_prompt_meets_every_instance_once_per_repeat() -> None:
    plan = plan_run(spec=BenchSpec(instances=[A, B, C], repeats=2), prompt_set=PROMPTS, run_seed=7)

    keys = [(i["prompt_id"], i["instance_id"], i["repeat"]) for i in plan.items]
    assert len(keys) == 3 * 3 * 2 == len(set(keys))
    assert [i["position"] for i in plan.items] == list(range(len(plan.items)))
    q2 = next(i for i in plan.items if i["prompt_id"] == "q2")
    assert q2["turns"] == ["Two?", "And then?"] and q2["reference"] == ["2", "3"] and q2["category"] == "writing"
    assert plan.judgments == []


def test_seeds_come_from_the_run_seed_and_repeat_unless_the_instance_has_one() -> None:
    plan = plan_run(spec=BenchSpec(instances=[A, B, C], repeats=3), prompt_set=PROMPTS, run_seed=7)

    def seeds(instance: ModelInstance, repeat: int) -> set[int]:
        return {i["seed"] for i in plan.items if i["instance_id"] == instance.instance_id and i["repeat"] == repeat}

    per_repeat = [seeds(A, repeat) for repeat in range(3)]
    assert all(len(s) == 1 for s in per_repeat), "one seed per repeat, whatever the prompt"
    assert len({s.pop() for s in per_repeat}) == 3, "each repeat samples differently"
    assert seeds(A, 1) == seeds(B, 1), "instances are compared on the same seed"
    assert seeds(C, 0) == seeds(C, 2) == {1234}, "an explicit seed is kept"
    again = plan_run(spec=BenchSpec(instances=[A, B, C], repeats=3), prompt_set=PROMPTS, run_seed=7)
    other = plan_run(spec=BenchSpec(instances=[A, B, C], repeats=3), prompt_set=PROMPTS, run_seed=8)
    assert [i["seed"] for i in again.items] == [i["seed"] for i in plan.items]
    assert [i["seed"] for i in other.items] != [i["seed"] for i in plan.items]
    assert all(1 <= repeat_seed(instance_seed=0, run_seed=s, repeat=r) <= 2**31 - 1 for s in (1, 99) for r in range(5))


def test_a_judge_compares_all_pairs_or_each_against_the_baseline() -> None:
    judge = JudgeSpec(instance=judge_instance("ollama:judge"))
    plan = plan_run(spec=BenchSpec(instances=[A, B, C], judge=judge), prompt_set=PROMPTS, run_seed=1)
    pairs = {(j["instance_a"], j["instance_b"]) for j in plan.judgments}
    assert len(plan.judgments) == 3 * 3  # 3 prompts × 3 pairs
    assert pairs == {(A.instance_id, B.instance_id), (A.instance_id, C.instance_id), (B.instance_id, C.instance_id)}

    by_model = JudgeSpec(instance=judge_instance("ollama:judge"), mode="baseline", baseline="ollama:b")
    plan = plan_run(spec=BenchSpec(instances=[A, B, C], judge=by_model, repeats=2), prompt_set=PROMPTS, run_seed=1)
    assert {(j["instance_a"], j["instance_b"]) for j in plan.judgments} == {
        (B.instance_id, A.instance_id),
        (B.instance_id, C.instance_id),
    }
    assert len(plan.judgments) == 3 * 2 * 2 and plan.baseline == B.instance_id
    by_position = JudgeSpec(instance=judge_instance("ollama:judge"), mode="baseline", baseline=2)
    assert (
        plan_run(spec=BenchSpec(instances=[A, B, C], judge=by_position), prompt_set=PROMPTS, run_seed=1).baseline
        == C.instance_id
    )


@pytest.mark.parametrize(
    ("instances", "judge", "message"),
    [
        ([A, A], None, "Duplicate model instance"),
        ([A], JudgeSpec(instance=judge_instance("ollama:j")), "at least two instances"),
        ([A, B], JudgeSpec(instance=judge_instance("ollama:j"), mode="baseline", baseline="ollama:zzz"), "not one of"),
        ([A, B], JudgeSpec(instance=judge_instance("ollama:j"), mode="baseline", baseline=5), "outside"),
    ],
)
def test_impossible_runs_are_refused_before_anything_is_written(
    instances: list[ModelInstance], judge: JudgeSpec | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan_run(spec=BenchSpec(instances=instances, judge=judge), prompt_set=PROMPTS, run_seed=1)


def test_a_judge_left_at_defaults_judges_greedily_with_a_fixed_seed() -> None:
    spec = BenchSpec.model_validate(
        {"instances": [{"model": "ollama:a"}], "judge": {"instance": {"model": "ollama:j"}}}
    )
    assert spec.judge is not None
    assert spec.judge.instance.temperature == 0.01 and spec.judge.instance.seed == 42
    with pytest.raises(ValueError, match="baseline"):
        JudgeSpec(instance=judge_instance("ollama:j"), mode="baseline")


def test_model_specs_carry_options_validated_like_the_api() -> None:
    instance = parse_model_spec("ollama:llama3.2:1b@temperature=0.2,seed=3", defaults={"num_predict": "64"})
    assert (instance.model, instance.temperature, instance.seed, instance.num_predict) == (
        "ollama:llama3.2:1b",
        0.2,
        3,
        64,
    )
    assert parse_model_spec("local:smollm2-135m-instruct").temperature == 0.7
    # A report's reproduce command spells every option out; it reads back to the same instance.
    assert parse_model_spec(model_spec(instance_record(instance))) == instance
    with pytest.raises(InvalidInput, match="temperature: Input should be less than or equal to 2"):
        parse_model_spec("ollama:a@temperature=5")
    with pytest.raises(InvalidInput, match="unknown option 'temp'"):
        parse_model_spec("ollama:a@temp=0.5")
    with pytest.raises(InvalidInput, match="expected key=value"):
        parse_model_spec("ollama:a@temperature=0.5,seed")


def test_chart_labels_tell_instances_of_one_model_apart() -> None:
    cold, warm = ModelInstance(model="ollama:a", temperature=0.2), ModelInstance(model="ollama:a", temperature=1.0)
    labels = instance_labels([instance_record(i) for i in (cold, warm, B)])
    assert labels == {
        cold.instance_id: "a · temp 0.2",
        warm.instance_id: "a · temp 1.0",
        B.instance_id: "b",
    }


def test_the_mt_bench_set_plans_two_turn_items_in_its_eight_categories() -> None:
    mt_bench = load_prompt_set(MT_BENCH)
    judge = JudgeSpec(instance=judge_instance("ollama:judge"), mode="baseline", baseline=0)
    plan = plan_run(spec=BenchSpec(instances=[A, B, C], judge=judge), prompt_set=mt_bench, run_seed=3)

    assert len(plan.items) == 80 * 3 and len(plan.judgments) == 80 * 2
    assert all(len(item["turns"]) == 2 for item in plan.items)
    assert len({item["category"] for item in plan.items}) == 8
    assert sum(1 for item in plan.items if item["reference"]) == 3 * sum(1 for q in mt_bench.items if q.reference)
