"""The residency registry (engines/residency.py): which models stay loaded within the memory budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from arena.engines.residency import Admission, Residency, default_budget_bytes
from arena.errors import EngineRejected, EngineUnavailable, MemoryBusy, ModelTooLarge
from arena.evaluation.conversation.view import error_kind
from arena.settings import Settings

pytestmark = pytest.mark.timeout(10)
MB = 2**20


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class Holder:
    """A model as its holder sees it: detached (unreachable at once) and freed (its memory back)."""

    def __init__(self, log: list[str], key: str) -> None:
        self.log = log
        self.key = key

    def detach(self):  # type: ignore[no-untyped-def]
        self.log.append(f"detach {self.key}")
        return lambda: self.log.append(f"free {self.key}")


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def registry() -> Residency:
    return Residency(budget_bytes=100 * MB, clock=Clock())


def use(registry: Residency, log: list[str], key: str, size_mb: int) -> Admission:
    return registry.enter(key, load_bytes=size_mb * MB, detach=Holder(log, key).detach)


def test_the_least_recently_used_idle_model_is_unloaded_first(registry: Residency, log: list[str]) -> None:
    for key in ("a", "b"):
        assert use(registry, log, key, 40).resident is False
        registry.leave(key)
    assert use(registry, log, "a", 40).resident is True  # a used again: b is now the oldest
    registry.leave("a")

    admission = use(registry, log, "c", 40)

    assert admission.resident is False and admission.unloaded == ["b"]
    assert log == ["detach b"]  # unreachable at once; its memory is freed by the loader
    admission.free_unloaded()
    admission.free_unloaded()  # once only
    assert log == ["detach b", "free b"]
    assert set(registry.snapshot()) == {"a", "c"}
    assert registry.used_bytes() == 80 * MB


def test_only_as_many_models_as_needed_are_unloaded(registry: Residency, log: list[str]) -> None:
    for key in ("a", "b", "c"):
        use(registry, log, key, 30)
        registry.leave(key)
    admission = use(registry, log, "d", 40)  # 10 free: unloading a (30) is enough
    assert admission.unloaded == ["a"]
    assert set(registry.snapshot()) == {"b", "c", "d"}


def test_a_model_in_use_is_never_unloaded(registry: Residency, log: list[str]) -> None:
    use(registry, log, "a", 60)  # streaming

    with pytest.raises(MemoryBusy) as refused:
        use(registry, log, "b", 60)

    assert isinstance(refused.value, EngineUnavailable)  # 503 with Retry-After: it may work later
    assert "try again when they have finished" in str(refused.value)
    assert error_kind("error", str(refused.value)) == "unreachable"  # a blind card: "… or was busy"
    assert log == [] and registry.snapshot()["a"].in_use == 1
    registry.leave("a")  # the stream ends: a is idle, and now it may go
    assert use(registry, log, "b", 60).unloaded == ["a"]


def test_two_uses_of_one_model_keep_it_until_both_end(registry: Residency, log: list[str]) -> None:
    use(registry, log, "a", 60)
    use(registry, log, "a", 60)  # a second stream of the same model: charged once
    assert registry.used_bytes() == 60 * MB and registry.snapshot()["a"].in_use == 2
    registry.leave("a")
    with pytest.raises(MemoryBusy):
        use(registry, log, "b", 60)
    registry.leave("a")
    assert use(registry, log, "b", 60).unloaded == ["a"]


def test_nothing_is_unloaded_when_that_would_not_make_room(registry: Residency, log: list[str]) -> None:
    use(registry, log, "a", 30)
    registry.leave("a")  # idle
    use(registry, log, "b", 60)  # in use

    with pytest.raises(MemoryBusy):
        use(registry, log, "c", 50)  # unloading a frees 40: not enough

    assert log == [] and set(registry.snapshot()) == {"a", "b"}


def test_a_model_bigger_than_the_budget_is_refused_with_what_to_do(registry: Residency, log: list[str]) -> None:
    use(registry, log, "a", 30)
    registry.leave("a")

    with pytest.raises(ModelTooLarge) as refused:
        registry.enter("huge", load_bytes=150 * MB, detach=Holder(log, "huge").detach, label="local:huge")

    assert isinstance(refused.value, EngineRejected)  # 400: retrying will not help
    message = str(refused.value)
    assert "local:huge is refused" in message and "needs about 157 MB" in message and "(105 MB)" in message  # the UI's unit
    assert "ARENA_EMBEDDED_MAX_MEMORY" in message
    assert error_kind("error", message) == "refused"  # what a blind card says instead
    assert log == [] and set(registry.snapshot()) == {"a"}  # nothing unloaded for nothing


def test_a_failed_load_gives_its_charge_back(registry: Residency, log: list[str]) -> None:
    use(registry, log, "a", 60)
    registry.leave("a", holds_nothing=True)
    assert registry.snapshot() == {} and registry.used_bytes() == 0
    use(registry, log, "b", 60)  # fits: nothing was left behind
    assert log == []


def test_unload_idle_keeps_models_in_use(registry: Residency, log: list[str]) -> None:
    use(registry, log, "a", 30)
    use(registry, log, "b", 30)
    registry.leave("a")
    frees = registry.unload_idle()
    assert log == ["detach a"] and set(registry.snapshot()) == {"b"}
    for free in frees:
        free()
    assert log == ["detach a", "free a"]


def test_the_budget_is_a_size_with_units_and_has_a_default() -> None:
    settings = Settings(_env_file=None, ARENA_EMBEDDED_MAX_MEMORY="6GiB")
    assert settings.embedded_max_memory == 6 * 2**30
    assert Settings(_env_file=None, ARENA_EMBEDDED_MAX_MEMORY="500MB").embedded_max_memory == 500_000_000
    for wrong in ("lots", "0", "-1GiB"):
        with pytest.raises(ValidationError, match="ARENA_EMBEDDED_MAX_MEMORY"):
            Settings(_env_file=None, ARENA_EMBEDDED_MAX_MEMORY=wrong)
    physical = Path("/proc/meminfo").read_text().split()[1]  # MemTotal in kB
    assert 0 < default_budget_bytes() <= int(physical) * 1024 // 2 + 1
