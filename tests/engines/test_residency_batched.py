"""The batched path under the memory budget, where it differs from the per-object path: the model
is idle the moment a stream's final chunk is read, an unloaded model's decode loop stops and frees
its context, a load whose stream went away stays charged until it ends, and a failed load leaves
no charge behind."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from arena.errors import EngineError
from tests.engines.test_residency_smollm2 import ask, final_chunk, idle, make_engine, models_dir, one_model_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
__all__ = ["models_dir"]  # the fixture, shared


@pytest.mark.parametrize("batching", [True, False], ids=["batched", "per-object"])
async def test_the_model_is_idle_when_the_final_chunk_is_read(tmp_path: Path, models_dir: Path, batching: bool) -> None:
    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes(batching=batching) * 3 // 2, batching=batching)
    try:
        for turn in range(8):
            stream = engine.stream(ask("a", num_predict=1 + turn % 3))
            chunk = await anext(stream)
            while chunk.usage is None:
                chunk = await anext(stream)
            # The stream has not even been told to end: the final chunk came after the leave.
            assert idle(engine), f"in use when the final chunk of turn {turn} was read"
            await stream.aclose()
    finally:
        await engine.aclose()


async def test_an_unloaded_model_stops_its_loop_and_frees_its_context(tmp_path: Path, models_dir: Path) -> None:
    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes() * 3 // 2)
    try:
        await final_chunk(engine, "a")
        loop_a = engine._batched.loop("a")
        assert loop_a is not None and loop_a.context.ctx is not None

        await final_chunk(engine, "b")  # a makes room: freed on a worker thread before b loads
        assert engine._batched.loop("a") is None and loop_a._thread is None
        assert loop_a.context.ctx is None
        assert set(engine.residency.snapshot()) == {"b"}
    finally:
        await engine.aclose()


async def test_a_load_whose_stream_went_away_stays_charged_until_it_ends(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes() * 3 // 2)
    loading, go_on = threading.Event(), threading.Event()

    class SlowToLoad(llama_cpp.Llama):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            loading.set()
            go_on.wait(60)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(llama_cpp, "Llama", SlowToLoad)
    try:
        answer = asyncio.ensure_future(final_chunk(engine, "a"))
        assert await asyncio.to_thread(loading.wait, 30)
        answer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await answer
        assert engine.residency.snapshot()["a"].in_use == 1  # loading: never unloaded half-loaded
        go_on.set()
        for _ in range(3000):
            if engine._batched.loop("a") is not None and idle(engine):
                break
            await asyncio.sleep(0.01)
        assert engine._batched.loop("a") is not None and idle(engine)
        assert engine.residency.snapshot()["a"].bytes == one_model_bytes()  # loaded and charged, not a stray
        assert (await final_chunk(engine, "b")).usage is not None  # and it unloads like any idle model
        assert engine._batched.loop("a") is None
    finally:
        go_on.set()
        await engine.aclose()


async def test_a_model_that_fails_to_load_leaves_no_charge(tmp_path: Path, models_dir: Path) -> None:
    (models_dir / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    engine = make_engine(tmp_path, models_dir, budget=one_model_bytes() * 3 // 2)
    try:
        for _ in range(2):
            with pytest.raises(EngineError, match="could not load its model file"):
                await final_chunk(engine, "broken")
            assert engine.residency.snapshot() == {}
        assert (await final_chunk(engine, "a")).usage is not None  # the budget is whole for the others
    finally:
        await engine.aclose()
