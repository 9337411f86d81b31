"""What a benchmark run is asked to do: the spec (validated the same way by the API and the CLI),
the CLI's ``model@key=value`` strings that spell one, and the engines' check that its models exist.

``plan`` turns a spec into the run's items and writes the run.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from arena.engines.base import SamplingOptions
from arena.engines.router import Router
from arena.errors import ArenaError, InvalidInput
from arena.evaluation.bench.prompt_sets import PromptSet
from arena.evaluation.bench.promptfoo_graded import DEFAULT_GRADER_MODEL, needs_grader
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.judge.judges import DEFAULT_JUDGE_OPTIONS

MAX_INSTANCES: Final = 32
MAX_REPEATS: Final = 100
MAX_CONCURRENCY: Final = 64
MAX_SEED: Final = 2**31 - 1
JudgeMode = Literal["pairs", "baseline"]


class JudgeSpec(BaseModel):
    """Who judges, and which pairs: every two instances, or each one against a baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: ModelInstance = Field(description="The judge model and its settings")
    mode: JudgeMode = Field("pairs", description="pairs: every two instances; baseline: each against the baseline")
    baseline: str | int | None = Field(
        None, description="The baseline: an instance id, a model id only one instance uses, or a position (from 0)"
    )

    @field_validator("instance", mode="before")
    @classmethod
    def _judge_defaults(cls, value: Any) -> Any:
        """Settings left out take the judge defaults (greedy, fixed seed), not a chat model's."""
        if isinstance(value, dict):
            return {**DEFAULT_JUDGE_OPTIONS.model_dump(), **value}
        return value

    @model_validator(mode="after")
    def _baseline_goes_with_mode(self) -> JudgeSpec:
        if (self.mode == "baseline") != (self.baseline is not None):
            raise ValueError('give a baseline exactly when mode is "baseline"')
        return self


def judge_instance(model: str, **options: Any) -> ModelInstance:
    """A judge at the judge defaults (greedy, a fixed seed), with any option overridden."""
    return ModelInstance(model=model, **{**DEFAULT_JUDGE_OPTIONS.model_dump(), **options})


class BenchSpec(BaseModel):
    """Everything that decides what a run does; validated the same way by the API and the CLI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, max_length=200, description="Defaults to the prompt set's name")
    instances: list[ModelInstance] = Field(min_length=1, max_length=MAX_INSTANCES)
    judge: JudgeSpec | None = None
    repeats: int = Field(1, ge=1, le=MAX_REPEATS, description="Times each prompt is asked of each instance")
    concurrency: int = Field(2, ge=1, le=MAX_CONCURRENCY, description="Generations at once per engine endpoint")
    seed: int | None = Field(None, ge=1, le=MAX_SEED, description="Run seed; random (and recorded) when absent")
    system: str | None = Field(None, max_length=100_000, description="System prompt for every item")


def parse_model_spec(spec: str, *, defaults: dict[str, str] | None = None) -> ModelInstance:
    """`model` or `model@temperature=0.2,seed=3`, on top of `defaults` (the CLI's -o options).

    Validated by ModelInstance, so the CLI refuses what the API refuses, with the same words.
    """
    model, at, tail = spec.strip().rpartition("@")
    if not at or "=" not in tail:
        model, tail = spec.strip(), ""
    options = dict(defaults or {})
    options.update(parse_options([part for part in tail.split(",") if part.strip()], where=f"model {model!r}"))
    try:
        return ModelInstance(model=model, **options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'model'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"model {spec!r}: {problems}") from None


def parse_options(pairs: list[str], *, where: str = "options") -> dict[str, str]:
    """`["temperature=0.2", "seed=3"]` → a dict; values stay text for ModelInstance to coerce."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise InvalidInput(f"{where}: expected key=value, got {pair!r}")
        if key not in SamplingOptions.model_fields:
            known = ", ".join(SamplingOptions.model_fields)
            raise InvalidInput(f"{where}: unknown option {key!r} (use {known})")
        options[key] = value.strip()
    return options


async def check_models(*, router: Router, spec: BenchSpec, prompt_set: PromptSet | None = None) -> None:
    """Refuse a model its engine says it does not have before anything is written or generated;
    model-graded promptfoo assertions without a judge need the embedded default grader."""
    models = {instance.model for instance in spec.instances}
    if spec.judge is not None:
        models.add(spec.judge.instance.model)
    graded = [i.checks for i in prompt_set.items if needs_grader(i.checks)] if prompt_set is not None else []
    if spec.judge is None:  # a promptfoo config's own grader
        models |= {checks["grader"]["model"] for checks in graded if checks and checks.get("grader")}
    for model in sorted(models):
        await router.check_known(model)
    if spec.judge is None and any(checks and not checks.get("grader") for checks in graded):
        try:
            await router.check_known(DEFAULT_GRADER_MODEL)
        except ArenaError:
            raise InvalidInput(
                f"llm-rubric and model-graded-closedqa assertions are graded by the run's judge, else the embedded "
                f"{DEFAULT_GRADER_MODEL}, which is not available here: name a judge"
            ) from None
