"""No thread that ran llama.cpp decodes outlives its work (engines/decode_threads.py: an idle one
holding OpenMP workers slows every other decode in the process 2-3x). The real SmolLM2, both
paths: a model's decode loop ends its thread once idle and starts another for the next answer;
the per-object path runs each generation on a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from arena.engines.base import GenerationRequest, Message, SamplingOptions
from arena.engines.catalog import SMOLLM2_NAME
from arena.engines.decode_threads import OwnThreads
from arena.engines.embedded import EmbeddedEngine
from tests.support.waiting import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def ask(text: str) -> GenerationRequest:
    return GenerationRequest(
        model=SMOLLM2_NAME,
        messages=[Message(role="user", content=text)],
        options=SamplingOptions(num_predict=4, seed=1),
    )


def threads_named(prefix: str) -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith(prefix)]


async def answer(engine: EmbeddedEngine, text: str) -> str:
    return "".join([chunk.text async for chunk in engine.stream(ask(text))])


@pytest.mark.parametrize("batching, prefix", [(True, "decode-"), (False, "llama")])
async def test_no_decode_thread_outlives_its_answers(tmp_path: Path, batching: bool, prefix: str) -> None:
    engine = EmbeddedEngine(
        data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=2, n_ctx=512, threads=1, batching=batching
    )
    try:
        first = await asyncio.gather(answer(engine, "Name a colour."), answer(engine, "Name a fruit."))
        assert all(first)
        assert await eventually(lambda: not threads_named(prefix)), threads_named(prefix)
        # The next answer gets a thread again, and the same text as before.
        assert await answer(engine, "Name a colour.") == first[0]
        assert await eventually(lambda: not threads_named(prefix)), threads_named(prefix)
    finally:
        await engine.aclose()


async def test_own_threads_pass_errors_on_and_join_waits_for_running_calls() -> None:
    threads = OwnThreads("test-own")

    def fail() -> None:
        raise ValueError("from the thread")

    with pytest.raises(ValueError, match="from the thread"):
        await threads.run(fail)

    release, finished = threading.Event(), threading.Event()

    def slow() -> None:
        release.wait(5)
        finished.set()

    running = threads.run(slow)
    assert threads_named("test-own")
    joiner = asyncio.ensure_future(asyncio.to_thread(threads.join))
    await asyncio.sleep(0.05)
    assert not joiner.done()  # join waits for the call still running
    release.set()
    await joiner
    assert finished.is_set()
    await running
    assert not threads_named("test-own")
