"""The memory budget with the real SmolLM2, dropped into the models folder twice (local:a, local:b):
unload and reload, a model in use kept, a clear refusal, and a load that blocks no other stream.
On the batched path (the default); the first case runs on the per-object path too."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from arena.engines.base import Chunk, GenerationRequest, Message, ModelInfo, SamplingOptions
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.embedded import EmbeddedEngine
from arena.errors import MemoryBusy, ModelTooLarge
from tests.support.models import smollm2_batched_bytes, smollm2_loaded_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
N_CTX = 512


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.gguf").symlink_to(smollm2_gguf_path())
    return folder


def assert_charged_as_llama_cpp_allocates(charged: int, records: list[logging.LogRecord]) -> None:
    """The budget's figure against the buffer sizes llama.cpp logs at load (arena.llama_cpp, DEBUG)."""

    def mib(pattern: str) -> float:
        found = [float(m.group(1)) for r in records if (m := re.search(pattern, r.getMessage()))]
        assert len(found) == 1, pattern
        return found[0] * 2**20

    # Batched: the batch context's KV cache and the tokenizer's small one; per object: one.
    kv = sum(float(m.group(1)) for r in records if (m := re.search(r"llama_kv_cache: size = +([\d.]+) MiB", r.getMessage())))
    kv *= 2**20
    weights = mib(r"CPU(?:_Mapped)? model buffer size = +([\d.]+) MiB")  # once: both contexts share it (mapped per object, read batched)
    file_size = smollm2_gguf_path().stat().st_size
    assert abs((charged - file_size) - kv) < 0.01 * 2**20  # the KV cache, to llama.cpp's own rounding
    assert weights <= file_size <= weights * 1.05  # the file is its tensors and a header


def one_model_bytes(*, batching: bool = True) -> int:
    return smollm2_batched_bytes(n_ctx=N_CTX) if batching else smollm2_loaded_bytes(n_ctx=N_CTX)


def make_engine(tmp_path: Path, models_dir: Path, *, budget: int, batching: bool = True) -> EmbeddedEngine:
    return EmbeddedEngine(
        data_dir=tmp_path / "data",
        models_dir=models_dir,
        slots=1,
        n_ctx=N_CTX,
        threads=1,
        max_memory=budget,
        batching=batching,
    )


@pytest.fixture(params=[True, False], ids=["batched", "per-object"])
async def both_paths(request: pytest.FixtureRequest, tmp_path: Path, models_dir: Path) -> AsyncIterator[EmbeddedEngine]:
    batching: bool = request.param
    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes(batching=batching) * 3 // 2, batching=batching)
    yield engine
    await engine.aclose()


@pytest.fixture
async def one_fits(tmp_path: Path, models_dir: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes() * 3 // 2)  # one, not two
    yield engine
    await engine.aclose()


def holds_nothing_of(engine: EmbeddedEngine, name: str) -> bool:
    """The model's memory was given back: no decode loop (batched) or no Llama object (per object)."""
    if engine.batching:
        return engine._batched.loop(name) is None
    return engine._pools[name]._idle == [] and engine._pools[name]._loaded == 0


def ask(model: str, num_predict: int = 4) -> GenerationRequest:
    return GenerationRequest(
        model=model,
        messages=[Message(role="user", content="Name a colour.")],
        options=SamplingOptions(num_predict=num_predict, seed=1),
    )


async def final_chunk(engine: EmbeddedEngine, model: str) -> Chunk:
    last = None
    async for chunk in engine.stream(ask(model)):
        last = chunk
    assert last is not None and last.usage is not None
    return last


async def listed(engine: EmbeddedEngine) -> dict[str, ModelInfo]:
    return {model.name: model for model in await engine.list_models() if model.name in ("a", "b")}


def idle(engine: EmbeddedEngine) -> bool:
    """Whether no model is in use: true as soon as a stream has ended (its final chunk read)."""
    return all(info.in_use == 0 for info in engine.residency.snapshot().values())


async def test_the_least_recently_used_model_unloads_and_loads_again_on_use(
    both_paths: EmbeddedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    one_fits = both_paths
    one = one_model_bytes(batching=one_fits.batching)
    caplog.set_level(logging.DEBUG, logger="arena.llama_cpp")
    models = await listed(one_fits)
    assert {name: (m.loaded, m.resident_bytes) for name, m in models.items()} == {
        "a": (False, one),
        "b": (False, one),
    }
    assert models["a"].size_bytes == smollm2_gguf_path().stat().st_size

    assert (await final_chunk(one_fits, "a")).usage.load_s is not None  # type: ignore[union-attr]
    assert idle(one_fits)
    assert {name: m.loaded for name, m in (await listed(one_fits)).items()} == {"a": True, "b": False}
    assert_charged_as_llama_cpp_allocates(one_fits.residency.snapshot()["a"].bytes, caplog.records)

    assert (await final_chunk(one_fits, "b")).usage.load_s is not None  # type: ignore[union-attr]
    assert {name: m.loaded for name, m in (await listed(one_fits)).items()} == {"a": False, "b": True}
    assert holds_nothing_of(one_fits, "a")  # closed, not kept aside

    assert (await final_chunk(one_fits, "a")).usage.load_s is not None  # type: ignore[union-attr]
    assert (await final_chunk(one_fits, "a")).usage.load_s is None  # still loaded: reused
    assert idle(one_fits) and one_fits.residency.used_bytes() == one


async def test_a_model_in_use_stays_and_the_other_is_refused_at_once(one_fits: EmbeddedEngine) -> None:
    long_answer = one_fits.stream(ask("a", num_predict=400))  # seconds on one thread
    assert (await anext(long_answer)).text

    began = time.perf_counter()
    with pytest.raises(MemoryBusy, match="models generating right now hold"):
        await final_chunk(one_fits, "b")
    assert time.perf_counter() - began < 2.0  # refused, not left waiting

    assert [(await anext(long_answer)).text for _ in range(3)]  # a's stream goes on
    await long_answer.aclose()  # stopped: a is idle at once, its loop drops the sequence at its next step
    assert idle(one_fits)
    assert (await final_chunk(one_fits, "b")).usage.load_s is not None  # now a makes room
    assert holds_nothing_of(one_fits, "a")


async def test_loading_one_model_does_not_hold_up_another_models_stream(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes() * 5 // 2)  # both fit
    loading, go_on = threading.Event(), threading.Event()

    class SlowToLoad(llama_cpp.Llama):  # a big model's load, held until the test lets it finish
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if str(kwargs["model_path"]).endswith("a.gguf"):
                loading.set()
                go_on.wait(60)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(llama_cpp, "Llama", SlowToLoad)
    try:
        await final_chunk(engine, "b")  # b is loaded
        a_answer = asyncio.ensure_future(final_chunk(engine, "a"))
        assert await asyncio.to_thread(loading.wait, 30)

        b_answer = await asyncio.wait_for(final_chunk(engine, "b"), 30)  # while a is still loading

        assert b_answer.usage is not None and b_answer.usage.load_s is None
        assert not a_answer.done()
        go_on.set()
        assert (await asyncio.wait_for(a_answer, 60)).usage.load_s is not None  # type: ignore[union-attr]
    finally:
        go_on.set()
        await engine.aclose()


async def test_a_model_bigger_than_the_whole_budget_is_refused_before_any_load(
    tmp_path: Path, models_dir: Path
) -> None:
    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes() // 2)
    try:
        for _ in range(2):  # the slot went back: the second try is refused too, not left waiting for it
            with pytest.raises(ModelTooLarge, match="local:a is refused by the embedded engine's memory budget"):
                await asyncio.wait_for(final_chunk(engine, "a"), 10)
        assert engine.residency.snapshot() == {} and holds_nothing_of(engine, "a")
    finally:
        await engine.aclose()
