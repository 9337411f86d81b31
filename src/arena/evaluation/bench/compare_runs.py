"""Two contestants of stored benchmark runs compared prompt by prompt (``compare`` does the maths):
two instances of one run, or one instance of each of two runs (a quantization against another,
say, both judged against the same baseline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arena.errors import InvalidInput
from arena.evaluation.bench.compare import Comparison, compare, direct_differences, opponent_differences
from arena.evaluation.bench.report.data import instance_labels, model_spec
from arena.evaluation.bench.spec import parse_model_spec
from arena.evaluation.judge.task import combine_orders
from arena.storage import bench as store
from arena.storage.bench_models import BenchJudgment, BenchRun
from arena.storage.db import Database


@dataclass(frozen=True, kw_only=True)
class RunComparison:
    run_a: str
    run_b: str
    instance_a: str
    instance_b: str
    label_a: str
    label_b: str
    comparison: Comparison
    notes: list[str] = field(default_factory=list)  # what makes the comparison weaker
    # The verdicts behind the differences that were judged in both orders, and how many of them
    # flipped when the answers swapped places (a flip reads as a tie, so "even" hides it).
    judged_pairs: int = 0
    flipped_pairs: int = 0

    @property
    def judge_unreliable(self) -> bool:
        """The judge flipped on most pairs: its ties say it could not tell, not that they are even."""
        return self.judged_pairs > 0 and self.flipped_pairs * 2 > self.judged_pairs

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "instance_a": self.instance_a,
            "instance_b": self.instance_b,
            "label_a": self.label_a,
            "label_b": self.label_b,
            **self.comparison.to_dict(),
            "notes": self.notes,
            "judged_pairs": self.judged_pairs,
            "flipped_pairs": self.flipped_pairs,
            "judge_unreliable": self.judge_unreliable,
        }


def _load(database: Database, run_id: str) -> tuple[BenchRun, list[BenchJudgment]]:
    with database.session() as session:
        return store.get_run(session, run_id=run_id), store.list_judgments(session, run_id=run_id)


def _instance(run: BenchRun, wanted: str | None, *, others: set[str], side: str) -> str:
    ids = [instance["instance_id"] for instance in run.instances]
    if wanted is not None:
        matches = _matches(run, wanted)
        if len(matches) != 1:
            choices = [_choice(run, i) for i in (matches or ids)]
            raise InvalidInput(
                f"{side}: run {run.id[:8]} has {'no' if not matches else 'several'} instance {wanted!r}; "
                f"{'name one of' if matches else 'its instances'}: {'; '.join(choices)}"
            )
        return matches[0]
    own = [i for i in ids if i not in others]
    if len(own) != 1:
        raise InvalidInput(f"{side}: name the instance of run {run.id[:8]} to compare; its instances: {', '.join(ids)}")
    return own[0]


def _matches(run: BenchRun, wanted: str) -> list[str]:
    """An instance id, a label, a model, or the `-m` spelling `model@temperature=0.2,…` (the
    options it names must match; those it leaves out may be anything)."""
    labels = instance_labels(run.instances)
    exact = [i["instance_id"] for i in run.instances if wanted in (i["instance_id"], labels[i["instance_id"]])]
    if exact or "@" not in wanted:
        return exact or [i["instance_id"] for i in run.instances if i["model"] == wanted.strip()]
    try:
        parsed = parse_model_spec(wanted)
    except InvalidInput:
        return []
    given = {name: getattr(parsed, name) for name in parsed.model_fields_set - {"model", "id"}}
    return [
        i["instance_id"]
        for i in run.instances
        if i["model"] == parsed.model and all(i.get(name) == value for name, value in given.items())
    ]


def _choice(run: BenchRun, instance_id: str) -> str:
    record = next(i for i in run.instances if i["instance_id"] == instance_id)
    return f"{model_spec(record)} ({instance_labels(run.instances)[instance_id]}, {instance_id})"


def compare_runs(
    *,
    database: Database,
    run_a: str,
    run_b: str | None = None,
    instance_a: str | None = None,
    instance_b: str | None = None,
    seed: int = 0,
) -> RunComparison:
    """Within one run (``run_b`` None) both instances must be named; across two runs an instance
    left out is the one its run has and the other run has not."""
    first, verdicts_a = _load(database, run_a)
    second, verdicts_b = (first, verdicts_a) if run_b is None or run_b == run_a else _load(database, run_b)
    if second is first and (instance_a is None or instance_b is None):
        raise InvalidInput("to compare instances within one run, name both (--instances A B)")
    ids_a = {i["instance_id"] for i in first.instances}
    ids_b = {i["instance_id"] for i in second.instances}
    a = _instance(first, instance_a, others=ids_b, side="A")
    b = _instance(second, instance_b, others=ids_a, side="B")
    if second is first and a == b:
        raise InvalidInput("compare two different instances")
    notes = []
    direct = direct_differences(verdicts_a, a=a, b=b) if second is first else []
    if direct:
        comparison = compare(direct, a=a, b=b, basis="direct", seed=seed)
        behind = [v for v in verdicts_a if {v.instance_a, v.instance_b} == {a, b}]
    else:
        behind = [v for v in verdicts_a if a in (v.instance_a, v.instance_b)]
        behind += [v for v in verdicts_b if b in (v.instance_a, v.instance_b)] if second is not first else []
        comparison = compare(
            opponent_differences(verdicts_a, verdicts_b, a=a, b=b), a=a, b=b, basis="opponents", seed=seed
        )
        opponents_a = _opponents(verdicts_a, a) - {b}
        opponents_b = _opponents(verdicts_b, b) - {a}
        if opponents_a != opponents_b:
            notes.append("A and B were judged against different opponents: their points are not strictly comparable")
    if first.prompt_set_sha256 != second.prompt_set_sha256:
        notes.append("the runs used different prompt sets: only prompts with the same id are paired")
    if not comparison.prompts:
        notes.append("no prompt has a verdict for both: nothing to compare")
    label_a = instance_labels(first.instances)[a]
    label_b = instance_labels(second.instances)[b]
    if second is not first and label_a == label_b:
        label_a, label_b = f"{label_a} (run {first.id[:8]})", f"{label_b} (run {second.id[:8]})"
    judged, flipped = _flips(behind)
    return RunComparison(
        judged_pairs=judged,
        flipped_pairs=flipped,
        run_a=first.id,
        run_b=second.id,
        instance_a=a,
        instance_b=b,
        label_a=label_a,
        label_b=label_b,
        comparison=comparison,
        notes=notes,
    )


def _flips(verdicts: list[BenchJudgment]) -> tuple[int, int]:
    """(verdicts judged in both orders, those whose two orders disagreed)."""
    judged = flipped = 0
    for v in verdicts:
        detail = v.detail or {}
        ab, ba = detail.get("verdict_ab"), detail.get("verdict_ba")
        if v.status != "done" or ab not in ("A", "B", "tie") or ba not in ("A", "B", "tie"):
            continue
        judged += 1
        flipped += not combine_orders(ab, ba)[1]
    return judged, flipped


def _opponents(verdicts: list[BenchJudgment], contestant: str) -> set[str]:
    return {
        v.instance_b if v.instance_a == contestant else v.instance_a
        for v in verdicts
        if v.status == "done" and contestant in (v.instance_a, v.instance_b)
    }


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def describe(result: RunComparison) -> list[str]:
    """The comparison in a few sentences, for the terminal and the Markdown summary."""
    c = result.comparison
    basis = "judged against each other" if c.basis == "direct" else "points against their opponents"
    lines = [
        f"A: {result.label_a}  ({result.instance_a}, run {result.run_a[:8]})",
        f"B: {result.label_b}  ({result.instance_b}, run {result.run_b[:8]})",
        f"{c.prompts} prompts paired ({basis}): A better on {c.better_a}, B better on {c.better_b}, even on {c.even}",
    ]
    if c.prompts:
        p = "–" if c.sign_test_p is None else f"{c.sign_test_p:.4g}"
        lines += [
            f"sign test (exact, two-sided): p = {p}",
            f"mean difference (A − B, from −1 to +1): {_number(c.mean_difference)}, "
            f"95% paired bootstrap interval {_number(c.ci_low)} to {_number(c.ci_high)}",
            f"effect size: Cohen's d_z = {_number(c.cohens_dz, 2)}",
        ]
        if c.separated:
            lines.append(
                f"separated: the interval excludes 0 ({'A' if (c.mean_difference or 0) > 0 else 'B'} is better)"
            )
        elif result.judge_unreliable:
            lines.append(
                f"not separated: the judge could not tell them apart — its verdict flipped when the answers "
                f"swapped places on {result.flipped_pairs} of {result.judged_pairs} pairs (each flip counts as "
                "a tie); more prompts with this judge would not help: use a bigger judge model"
            )
        elif c.prompts_needed is None:
            lines.append("not separated, and no difference seen: more prompts would not separate them")
        else:
            lines.append(
                f"not separated: at this effect about {c.prompts_needed} prompts would separate them 4 times "
                f"in 5 (80% power; {c.more_prompts} more)"
            )
    return lines + [f"note: {note}" for note in result.notes]
