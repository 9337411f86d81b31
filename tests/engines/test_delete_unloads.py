"""Deleting a loaded embedded model unloads it, and a file replaced under a loaded id is loaded
again: the old weights never answer for an id whose file is gone or new. Real SmolLM2 files in
a temp models folder, on the batched path (the default) and the per-object path."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arena.engines.base import Chunk, GenerationRequest, Message, SamplingOptions
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.embedded import EmbeddedEngine
from arena.engines.pulled_models import PulledRecord, write_record
from arena.errors import ModelNotAvailable
from tests.support.models import smollm2_batched_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def pulled_here(models_dir: Path, name: str) -> Path:
    """A SmolLM2 file as `arena pull` leaves it (the record makes it the arena's to delete)."""
    model = models_dir / f"{name}.gguf"
    model.symlink_to(smollm2_gguf_path())
    write_record(
        model,
        PulledRecord(
            repo="org/repo", file=model.name, revision="c0", sha256=None, size=0, quantization=None, endpoint="x"
        ),
    )
    return model


@pytest.fixture(params=[True, False], ids=["batched", "per-object"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    pulled_here(models_dir, "a")
    engine = EmbeddedEngine(
        data_dir=tmp_path / "data", models_dir=models_dir, slots=2, n_ctx=512, threads=1, batching=request.param
    )
    yield engine
    await engine.aclose()


def ask(num_predict: int = 2) -> GenerationRequest:
    return GenerationRequest(
        model="a",
        messages=[Message(role="user", content="Name a colour.")],
        options=SamplingOptions(num_predict=num_predict, seed=1),
    )


def long_answer() -> GenerationRequest:
    """An answer still running seconds later (this prompt and seed run to the token limit)."""
    return GenerationRequest(
        model="a",
        messages=[Message(role="user", content="Tell a long story about a lighthouse keeper and a storm.")],
        options=SamplingOptions(num_predict=200, seed=1),
    )


async def final_chunk(engine: EmbeddedEngine) -> Chunk:
    chunks = [chunk async for chunk in engine.stream(ask())]
    assert chunks[-1].usage is not None
    return chunks[-1]


async def unloaded(engine: EmbeddedEngine) -> bool:
    for _ in range(200):  # the last stream's leave frees it on a thread of its own
        if "a" not in engine.residency.snapshot() and engine._batched.loop("a") is None and not engine._batched._hidden:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_deleting_an_idle_model_unloads_it_at_once(engine: EmbeddedEngine) -> None:
    await final_chunk(engine)
    assert "a" in engine.residency.snapshot()
    await engine.delete("a")
    assert "a" not in engine.residency.snapshot()
    assert engine._batched.loop("a") is None and "a" not in engine._pools
    assert "a" not in {m.name for m in await engine.list_models()}
    with pytest.raises(ModelNotAvailable):
        await final_chunk(engine)


async def test_a_model_deleted_while_generating_finishes_its_stream_then_a_new_file_loads(
    engine: EmbeddedEngine,
) -> None:
    stream = engine.stream(ask(num_predict=24))
    first = await anext(stream)
    assert engine.residency.snapshot()["a"].in_use == 1  # its final chunk is not read yet
    await engine.delete("a")
    assert retired_copies(engine) == 1  # kept, and charged, for the answer under way
    with pytest.raises(ModelNotAvailable):  # no new stream on the deleted weights
        await final_chunk(engine)
    rest = [chunk async for chunk in stream]  # the running answer ends normally
    assert first.text is not None and rest[-1].finish_reason in ("length", "stop")
    assert await unloaded(engine)

    pulled_here(engine.models_dir, "a")  # a new file under the same id
    assert (await final_chunk(engine)).usage.load_s is not None  # type: ignore[union-attr]


async def test_a_file_deleted_by_hand_unloads_when_the_model_list_is_read(engine: EmbeddedEngine) -> None:
    await final_chunk(engine)
    assert "a" in engine.residency.snapshot()
    (engine.models_dir / "a.gguf").unlink()  # not through the arena: nothing told it
    assert "a" not in {m.name for m in await engine.list_models()}
    assert await unloaded(engine)  # its memory is given back, not held until the budget needs it


def retired_copies(engine: EmbeddedEngine) -> int:
    return sum(1 for key in engine.residency.snapshot() if key.startswith("a (retired"))


async def test_a_file_replaced_while_generating_loads_anew_for_the_next_request_at_once(engine: EmbeddedEngine) -> None:
    old_answer = engine.stream(long_answer())  # still answering when the new load is done
    first = await anext(old_answer)
    model = engine.models_dir / "a.gguf"
    copy = engine.models_dir / "a.new"
    shutil.copyfile(smollm2_gguf_path(), copy)
    copy.replace(model)  # replaced with mv while the old file answers
    # Not refused until the old answer ends: the new file loads, beside the old copy.
    assert (await final_chunk(engine)).usage.load_s is not None  # type: ignore[union-attr]
    assert retired_copies(engine) == 1 and engine.residency.snapshot()["a"].in_use == 0
    rest = [chunk async for chunk in old_answer]  # the old answer ends normally, on the old file
    assert first.text is not None and rest[-1].finish_reason == "length"
    for _ in range(200):  # its end frees the old copy alone
        if not retired_copies(engine):
            break
        await asyncio.sleep(0.01)
    assert retired_copies(engine) == 0 and "a" in engine.residency.snapshot()
    assert (await final_chunk(engine)).usage.load_s is None  # the new copy stayed loaded


async def test_unloading_the_new_copy_leaves_the_old_copys_answer_running(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    pulled_here(models_dir, "a")
    pulled_here(models_dir, "b")
    # Room for two models: the old copy of a (answering), the new copy of a, then b in its place.
    budget = smollm2_batched_bytes(n_ctx=512, slots=2) * 5 // 2
    engine = EmbeddedEngine(
        data_dir=tmp_path / "data", models_dir=models_dir, slots=2, n_ctx=512, threads=1, max_memory=budget
    )
    try:
        old_answer = engine.stream(long_answer())
        await anext(old_answer)
        copy = models_dir / "a.new"
        shutil.copyfile(smollm2_gguf_path(), copy)
        copy.replace(models_dir / "a.gguf")
        await final_chunk(engine)  # the new copy of a loads, answers and is idle
        b = GenerationRequest(model="b", messages=[Message(role="user", content="Hi")], options=SamplingOptions(num_predict=2))
        assert [chunk async for chunk in engine.stream(b)][-1].usage is not None  # the new a is unloaded for b
        assert "a" not in engine.residency.snapshot() and retired_copies(engine) == 1
        rest = [chunk async for chunk in old_answer]  # the old copy's answer was not closed with it
        assert rest[-1].finish_reason == "length"
    finally:
        await engine.aclose()


async def test_a_file_replaced_under_a_loaded_id_is_loaded_again(engine: EmbeddedEngine) -> None:
    assert (await final_chunk(engine)).usage.load_s is not None  # type: ignore[union-attr]
    assert (await final_chunk(engine)).usage.load_s is None  # loaded: reused
    model = engine.models_dir / "a.gguf"
    copy = engine.models_dir / "a.new"
    shutil.copyfile(smollm2_gguf_path(), copy)
    copy.replace(model)  # another inode under the same name
    assert (await final_chunk(engine)).usage.load_s is not None  # type: ignore[union-attr]
    assert (await final_chunk(engine)).usage.load_s is None


async def test_an_hf_delete_unloads_the_local_model_it_served_as(engine: EmbeddedEngine) -> None:
    from arena.engines.hf_pull import HuggingFaceHub

    hub = HuggingFaceHub(endpoint="http://127.0.0.1:9", models_dir=engine.models_dir)  # never contacted to delete
    hub.on_removed = engine.forget  # as engines/factory wires them
    await final_chunk(engine)
    await hub.delete("org/repo")
    assert "a" not in engine.residency.snapshot() and not (engine.models_dir / "a.gguf").exists()
    with pytest.raises(ModelNotAvailable):
        await final_chunk(engine)
