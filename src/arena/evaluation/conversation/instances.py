"""Model instances: one model at one set of hyperparameters, with a deterministic id.

The id must be injective: two different model strings never share an id, or one user's
instance (an import, say) would be taken for another's. It stays readable and URL-safe:
letters, digits, `.` and `-` are kept, `:` becomes `_` (so common ids look as they always
did), and every other character, `_` and `~` included, becomes `~XX` per UTF-8 byte — a
prefix code, so the model part can always be read back. A model too long to spell out keeps
a readable head and adds its SHA-256 after `~~` (which spelling never produces).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, ConfigDict, Field

from arena.engines.base import SamplingOptions
from arena.engines.router import parse_model_id
from arena.errors import InvalidInput

_KEPT: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
# Spelled-out model parts longer than this are shortened and hashed, so ids fit their column.
MAX_SPELLED_MODEL: Final = 200
HASHED_HEAD: Final = 120


def _printable_model_id(model: str) -> str:
    """No control, format (bidi) or separator character other than a plain space, and no space
    at either end: an id that reads as what it is (ValueError → 422)."""
    if model != model.strip():
        raise ValueError("a model id must not start or end with a space")
    for ch in model:
        if ch != " " and unicodedata.category(ch)[0] in "CZ":
            raise ValueError(f"a model id must not contain the character U+{ord(ch):04X}")
    return model


# Every model id a request or an import names; the `openai:<endpoint>/<model>` shape is the
# router's to check (`check_model_id`), as it knows the namespaces.
ModelId = Annotated[
    str,
    Field(min_length=1, max_length=300, description="Model id, e.g. local:smollm2-135m-instruct"),
    AfterValidator(_printable_model_id),
]


class ModelInstance(SamplingOptions):
    """What a request names: a model id plus the six hyperparameters (validated, 422 when out of range)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelId
    id: str | None = Field(
        None,
        max_length=400,
        description="The client's own name for the instance, echoed back as its key in format v3; the arena "
        "stores and counts the instance by its model and settings (the deterministic id) whatever it says",
    )

    @property
    def instance_id(self) -> str:
        return instance_id(self.model, self.options)

    @property
    def options(self) -> SamplingOptions:
        return SamplingOptions.model_validate(self.model_dump(exclude={"model", "id"}))


def check_model_id(model: str) -> None:
    """The shape the router reads (`openai:<endpoint>/<model>`, a name after the prefix), for
    ids that are stored without being run, as an import's; InvalidInput (400) as in a chat."""
    parse_model_id(model)


def _spell(model: str) -> str:
    spelled = "".join(
        ch if ch in _KEPT else "_" if ch == ":" else "".join(f"~{b:02x}" for b in ch.encode("utf-8")) for ch in model
    )
    if len(spelled) <= MAX_SPELLED_MODEL:
        return spelled
    return spelled[:HASHED_HEAD] + "~~" + hashlib.sha256(model.encode("utf-8")).hexdigest()


def instance_id(model: str, options: SamplingOptions) -> str:
    """`{model spelled}__{temperature}_{top_p}_{top_k}_{repeat_penalty}_{num_predict}_{seed}`.

    Injective: the settings are the last six `_`-separated fields (numbers never hold `_`),
    so the rest is the spelled model, which reads back as exactly one model string."""
    o = options
    return f"{_spell(model)}__{o.temperature}_{o.top_p}_{o.top_k}_{o.repeat_penalty}_{o.num_predict}_{o.seed}"


def check_instances(instances: list[ModelInstance], *, max_instances: int) -> None:
    """The rules the schema cannot express: at least one, not too many, each model id in the
    router's shape, no duplicates."""
    if not instances:
        raise InvalidInput("No models selected: give model_instances or models")
    if len(instances) > max_instances:
        raise InvalidInput(f"Too many model instances: {len(instances)} (at most {max_instances})")
    seen: set[str] = set()
    for instance in instances:
        check_model_id(instance.model)
        if instance.instance_id in seen:
            raise InvalidInput(f"Duplicate model instance detected: {instance.instance_id}")
        seen.add(instance.instance_id)
    # A client's own ids come back as keys: two instances under one key could not be told apart.
    named = [i.id for i in instances if i.id]
    if len(set(named)) != len(named):
        raise InvalidInput("Duplicate model instance id: each instance needs its own `id`")
    if any(key in seen and key != i.instance_id for i in instances if (key := i.id)):
        raise InvalidInput("An instance's `id` names another instance of this request")
