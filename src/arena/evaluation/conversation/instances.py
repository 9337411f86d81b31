"""Model instances: one model at one set of hyperparameters, with a deterministic id."""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field

from arena.engines.base import SamplingOptions
from arena.errors import InvalidInput

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class ModelInstance(SamplingOptions):
    """What a request names: a model id plus the six hyperparameters (validated, 422 when out of range)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, max_length=300, description="Model id, e.g. local:smollm2-135m-instruct")
    id: str | None = Field(
        None, max_length=400, description="Ignored on input: the arena always uses the deterministic id"
    )

    @property
    def instance_id(self) -> str:
        return instance_id(self.model, self.options)

    @property
    def options(self) -> SamplingOptions:
        return SamplingOptions.model_validate(self.model_dump(exclude={"model", "id"}))


def instance_id(model: str, options: SamplingOptions) -> str:
    """`{model}__{temperature}_{top_p}_{top_k}_{repeat_penalty}_{num_predict}_{seed}`, made URL-safe."""
    o = options
    raw = f"{model}__{o.temperature}_{o.top_p}_{o.top_k}_{o.repeat_penalty}_{o.num_predict}_{o.seed}"
    return _UNSAFE.sub("_", raw)


def check_instances(instances: list[ModelInstance], *, max_instances: int) -> None:
    """The rules the schema cannot express: at least one, not too many, no duplicates."""
    if not instances:
        raise InvalidInput("No models selected: give model_instances or models")
    if len(instances) > max_instances:
        raise InvalidInput(f"Too many model instances: {len(instances)} (at most {max_instances})")
    seen: set[str] = set()
    for instance in instances:
        if instance.instance_id in seen:
            raise InvalidInput(f"Duplicate model instance detected: {instance.instance_id}")
        seen.add(instance.instance_id)
