"""Batch benchmarks: a prompt set × model instances × repeats, optionally judged, resumable.

    spec = BenchSpec(instances=[...], judge=JudgeSpec(instance=...), repeats=3)  # bench/spec.py
    run_id = create_run(database=db, spec=spec, prompt_set=load_prompt_set(path))
    await BenchRunner(database=db, router=router, run_id=run_id).run()    # bench/runner.py
    report = build_report(database=db, run_id=run_id)                     # bench/report/data.py

Creating a run writes every item (and every pair the judge will compare) as ``pending`` in one
transaction, so what a run has to do is fixed and visible from the start; the runner then
works through the rows and can be killed and resumed at any moment. This module holds the
plan (pure) and creating a run; ``bench.spec`` the spec, ``bench.control`` follows and cancels runs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Final

from arena.errors import InvalidInput
from arena.evaluation.bench.prompt_sets import PromptSet
from arena.evaluation.bench.spec import MAX_INSTANCES, MAX_SEED, BenchSpec
from arena.evaluation.conversation.instances import ModelInstance, check_instances
from arena.storage import bench as store
from arena.storage import repository
from arena.storage.bench_models import CATEGORY_MAX_LENGTH, PROMPT_ID_MAX_LENGTH
from arena.storage.db import Database

MAX_WORK_ROWS: Final = 200_000  # items + judgments: a run that big is a typo, not a plan


@dataclass(frozen=True, kw_only=True)
class Plan:
    items: list[dict[str, Any]]
    judgments: list[dict[str, Any]]
    baseline: str | None


def repeat_seed(*, instance_seed: int, run_seed: int, repeat: int) -> int:
    """The instance's own seed when it has one; else one derived from the run seed and repeat."""
    if instance_seed:
        return instance_seed
    digest = hashlib.sha256(f"arena-bench:{run_seed}:{repeat}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % MAX_SEED + 1


def resolve_baseline(reference: str | int, instances: list[ModelInstance]) -> str:
    """The instance id a baseline names: an instance id, a model id only one instance uses, or a position."""
    ids = [instance.instance_id for instance in instances]
    if isinstance(reference, int):
        if not 0 <= reference < len(ids):
            raise InvalidInput(f"the baseline position {reference} is outside the {len(ids)} instances (count from 0)")
        return ids[reference]
    if reference in ids:
        return reference
    matches = [instance.instance_id for instance in instances if instance.model == reference]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidInput(
            f"the baseline {reference!r} matches several instances: give an instance id ({', '.join(matches)})"
        )
    raise InvalidInput(f"the baseline {reference!r} is not one of the run's instances: {', '.join(ids)}")


def plan_run(*, spec: BenchSpec, prompt_set: PromptSet, run_seed: int) -> Plan:
    """Every item (prompt × instance × repeat) and every pair to judge, in the order they run."""
    check_instances(spec.instances, max_instances=MAX_INSTANCES)
    baseline = None
    if spec.judge is not None:
        if len(spec.instances) < 2:
            raise InvalidInput("a judge compares answers in pairs: give at least two instances")
        if spec.judge.baseline is not None:
            baseline = resolve_baseline(spec.judge.baseline, spec.instances)
    ids = [instance.instance_id for instance in spec.instances]
    if baseline is None:
        pairs = list(combinations(ids, 2))
    else:
        pairs = [(baseline, other) for other in ids if other != baseline]
    size = len(prompt_set.items) * spec.repeats * (len(ids) + (len(pairs) if spec.judge else 0))
    if size > MAX_WORK_ROWS:
        raise InvalidInput(f"this run would have {size} items and judgments (at most {MAX_WORK_ROWS})")
    items: list[dict[str, Any]] = []
    judgments: list[dict[str, Any]] = []
    for prompt in prompt_set.items:
        for repeat in range(spec.repeats):
            for instance in spec.instances:
                items.append(
                    {
                        "position": len(items),
                        "prompt_id": prompt.id,
                        "category": prompt.category,
                        "turns": list(prompt.turns),
                        "reference": list(prompt.reference) if prompt.reference else None,
                        "checks": prompt.checks,
                        "instance_id": instance.instance_id,
                        "model": instance.model,
                        "repeat": repeat,
                        "seed": repeat_seed(instance_seed=instance.seed, run_seed=run_seed, repeat=repeat),
                    }
                )
            if spec.judge is not None:
                judgments.extend(
                    {
                        "prompt_id": prompt.id,
                        "category": prompt.category,
                        "repeat": repeat,
                        "instance_a": a,
                        "instance_b": b,
                    }
                    for a, b in pairs
                )
    return Plan(items=items, judgments=judgments, baseline=baseline)


def _check_prompt_lengths(prompt_set: PromptSet) -> None:
    for position, item in enumerate(prompt_set.items, start=1):
        if len(item.id) > PROMPT_ID_MAX_LENGTH:
            raise InvalidInput(
                f"{prompt_set.name}: prompt {position}: the id is longer than {PROMPT_ID_MAX_LENGTH} characters"
            )
        if item.category and len(item.category) > CATEGORY_MAX_LENGTH:
            raise InvalidInput(
                f"{prompt_set.name}: prompt {item.id}: the category is longer than {CATEGORY_MAX_LENGTH} characters"
            )


def instance_record(instance: ModelInstance) -> dict[str, Any]:
    return {"instance_id": instance.instance_id, "model": instance.model, **instance.options.model_dump()}


def run_instance(instance: ModelInstance) -> dict[str, Any]:
    """How a run keeps an instance; `label` is the name its config gave it (a promptfoo provider's)."""
    record = instance_record(instance)
    return {**record, "label": instance.id} if instance.id else record


def create_run(
    *,
    database: Database,
    spec: BenchSpec,
    prompt_set: PromptSet,
    prompt_file: str | None = None,
    owner_id: int | None = None,
) -> str:
    """Validate, plan and store the whole run in one transaction; returns its id."""
    _check_prompt_lengths(prompt_set)
    run_seed = spec.seed or secrets.randbelow(MAX_SEED) + 1
    plan = plan_run(spec=spec, prompt_set=prompt_set, run_seed=run_seed)
    judge = None
    if spec.judge is not None:
        judge = {**instance_record(spec.judge.instance), "mode": spec.judge.mode, "baseline": plan.baseline}
    with database.session() as session:
        run = store.create_run(
            session,
            name=spec.name or prompt_set.name,
            prompt_set_name=prompt_set.name,
            prompt_file=prompt_file,
            prompt_set_sha256=prompt_set.sha256,
            prompt_count=len(prompt_set.items),
            instances=[run_instance(instance) for instance in spec.instances],
            judge=judge,
            system=spec.system,
            repeats=spec.repeats,
            concurrency=spec.concurrency,
            seed=run_seed,
            items=plan.items,
            judgments=plan.judgments,
            owner_id=owner_id,
        )
        # Known instances, so the judge's verdicts (stored under instance ids) can feed the leaderboard.
        for instance in spec.instances:
            repository.upsert_instance(session, **instance_record(instance))
        return run.id
