"""The embedded llama.cpp engine with the real SmolLM2 and Gemma-3 models."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arena.engines.base import Chunk, GenerationRequest, Message, SamplingOptions
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.embedded import EmbeddedEngine
from arena.errors import EngineError, EngineRejected, ModelNotAvailable
from tests.support.engine_answers import collect
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio
SMOL = "smollm2-135m-instruct"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = EmbeddedEngine(data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=2, n_ctx=512)
    yield engine
    await engine.aclose()


@pytest.fixture
async def per_object(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    """The per-object path (ARENA_EMBEDDED_BATCHING=0): a Llama object per running answer."""
    engine = EmbeddedEngine(
        data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=2, n_ctx=512, batching=False
    )
    yield engine
    await engine.aclose()



def ask(text: str, **options: object) -> GenerationRequest:
    return GenerationRequest(model=SMOL, messages=[Message(role="user", content=text)], options=SamplingOptions(**options))


async def test_counts_come_from_the_tokenizer(engine: EmbeddedEngine) -> None:
    text, final = await collect(engine, ask("Say hello.", num_predict=12, seed=3))
    assert text.strip()
    assert final.usage is not None
    assert 0 < final.usage.completion_tokens <= 12
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf_path()), n_ctx=512, verbose=False)
    expected = len(llm.tokenize(text.encode(), add_bos=False, special=False))
    # Re-tokenizing the text may merge or split a token at the edges, never more.
    assert abs(final.usage.completion_tokens - expected) <= 2
    assert final.usage.prompt_tokens and final.usage.prompt_tokens > 5


async def test_a_repeated_prompt_starts_from_a_cold_cache_as_the_first_did(tmp_path: Path) -> None:
    # One object, so a request finds the previous one's tokens in it: llama-cpp-python would
    # reuse that prefix and send the first token 10-100x sooner, skewing the comparison.
    engine = EmbeddedEngine(data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=1, n_ctx=512, threads=1)
    prompt = ask("Tell me about the sea, the waves, the tides and the wind. " * 6, num_predict=2, seed=1)

    async def first_token_s() -> tuple[float, Chunk]:
        started, first, last = time.perf_counter(), None, None
        async for chunk in engine.stream(prompt):
            if chunk.text and first is None:
                first = time.perf_counter() - started
            last = chunk
        assert first is not None and last is not None and last.usage is not None
        return first, last

    try:
        await collect(engine, ask("Hi", num_predict=1))  # loads the model: not part of the timing
        fresh, fresh_end = await first_token_s()
        repeated, repeated_end = await first_token_s()
    finally:
        await engine.aclose()
    assert fresh_end.usage and repeated_end.usage
    assert fresh_end.usage.cached_prompt_tokens == repeated_end.usage.cached_prompt_tokens == 0
    assert repeated_end.usage.prompt_tokens == fresh_end.usage.prompt_tokens > 60
    # The whole prompt is processed again: a reused prefix would take a few ms, not most of it.
    assert repeated > 0.3 * fresh, (fresh, repeated)
    assert repeated_end.usage.prompt_s and repeated_end.usage.prompt_s > 0.3 * (fresh_end.usage.prompt_s or 0)


async def test_a_fixed_seed_repeats_the_answer(engine: EmbeddedEngine) -> None:
    first, _ = await collect(engine, ask("Name a colour.", num_predict=10, seed=123, temperature=1.0))
    second, _ = await collect(engine, ask("Name a colour.", num_predict=10, seed=123, temperature=1.0))
    assert first == second


async def test_two_streams_of_one_model_run_at_once_on_two_objects(per_object: EmbeddedEngine) -> None:
    engine = per_object
    order: list[str] = []

    async def run(name: str, temperature: float) -> None:
        async for chunk in engine.stream(ask("Count to ten.", num_predict=32, temperature=temperature, seed=1)):
            if chunk.text:
                order.append(name)

    # Load both Llama objects first, so the second stream does not start late waiting for a load.
    await asyncio.gather(collect(engine, ask("Hi", num_predict=1)), collect(engine, ask("Yo", num_predict=1)))
    await asyncio.gather(run("a", 0.2), run("b", 1.5))
    # Interleaved: the second stream started before the first one finished.
    assert order.index("b") < len(order) - 1 - order[::-1].index("a")
    pool = engine._pools[SMOL]
    assert await eventually(lambda: len(pool._idle) == 2), "both Llama objects went back to the pool"


async def test_closing_the_stream_stops_generation_within_a_token(per_object: EmbeddedEngine) -> None:
    engine = per_object
    stream = engine.stream(ask("Write a long essay about rivers.", num_predict=400))
    received = 0
    async for chunk in stream:
        received += bool(chunk.text)
        if received == 3:
            break
    await stream.aclose()
    pool = engine._pools[SMOL]
    # The worker thread notices the stop at its next token and hands the object back.
    assert await eventually(lambda: len(pool._idle) == 1), "the object is back in the pool"
    text, final = await collect(engine, ask("Hi", num_predict=4))
    assert final.usage is not None and final.usage.completion_tokens > 0


async def test_json_schema_constrains_the_answer(engine: EmbeddedEngine) -> None:
    schema = {"type": "object", "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]}}, "required": ["winner"]}
    request = GenerationRequest(
        model=SMOL,
        messages=[Message(role="user", content="Which is better, A or B? Answer in JSON.")],
        options=SamplingOptions(num_predict=24, temperature=0.2, seed=1),
        json_schema=schema,
    )
    text, _ = await collect(engine, request)
    assert json.loads(text)["winner"] in ("A", "B", "tie")


async def test_unknown_model_and_too_long_prompt_are_clear_errors(engine: EmbeddedEngine) -> None:
    with pytest.raises(ModelNotAvailable, match="local:nope"):
        await collect(engine, GenerationRequest(model="nope", messages=[Message(role="user", content="x")]))
    with pytest.raises(EngineRejected, match="longer than the 512 tokens of context") as too_long:
        await collect(engine, ask("word " * 2000, num_predict=4))
    # The same for every embedded model: no count of this model's tokens, which would tell it apart.
    assert re.findall(r"\d+", str(too_long.value)) == ["512"]


async def test_gguf_files_in_the_models_folder_become_models(
    engine: EmbeddedEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "models").mkdir()
    shutil.copyfile(smollm2_gguf_path(), tmp_path / "models" / "My-Copy.gguf")
    (tmp_path / "models" / "Broken-Secret.gguf").write_bytes(b"not a model")
    listed = {m.id: m for m in await engine.list_models()}
    assert {"local:my-copy", "local:broken-secret", "local:smollm2-135m-instruct", "local:gemma3-270m"} <= set(listed)
    # A file dropped in says what it is, from its own header, as the bundled copy of it does.
    copy, bundled = listed["local:my-copy"], listed["local:smollm2-135m-instruct"]
    assert (copy.family, copy.parameter_size, copy.quantization) == ("llama", "135M", "Q4_1")
    assert (copy.family, copy.parameter_size, copy.quantization) == (bundled.family, bundled.parameter_size, bundled.quantization)
    broken = listed["local:broken-secret"]
    assert (broken.family, broken.parameter_size, broken.quantization) == (None, None, None)
    text, _ = await collect(engine, GenerationRequest(model="my-copy", messages=[Message(role="user", content="Hi")], options=SamplingOptions(num_predict=4)))
    assert text
    # A corrupt file is that model's error, in the arena's own terms, not a crash; its file's
    # name goes to the log only (a blind card's label mask would miss "Broken-Secret").
    with caplog.at_level(logging.ERROR, logger="arena.engines.llama_pool"), pytest.raises(EngineError) as failed:
        await collect(engine, GenerationRequest(model="broken-secret", messages=[Message(role="user", content="Hi")]))
    assert "could not load its model file" in str(failed.value) and "secret" not in str(failed.value).lower()
    assert "Broken-Secret.gguf" in caplog.text


async def test_gemma_is_assembled_once_and_answers(engine: EmbeddedEngine, tmp_path: Path) -> None:
    request = GenerationRequest(model="gemma3-270m", messages=[Message(role="user", content="What is 2+2?")], options=SamplingOptions(num_predict=8, seed=2))
    text, final = await collect(engine, request)
    assembled = tmp_path / "data" / "builtin-models" / "gemma-3-270m-q4_k_m.gguf"
    assert assembled.stat().st_size > 100_000_000
    assert final.usage is not None and final.usage.completion_tokens > 0
    assert "<start_of_turn>" not in text


async def test_answers_started_together_run_on_equal_shares_and_a_queued_one_says_it_waited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two slots, eight cores, three answers: the first two run on four threads each from their
    first prompt token to their last (never eight: no head start for the first listed, never
    more than the cores between them); the third waits for a slot and says so."""
    import llama_cpp

    from arena.engines import thread_share

    seen: dict[thread_share.Seat, list[int]] = {}  # the threads llama.cpp held at each token
    apply = thread_share.Seat.apply

    def recording(seat: thread_share.Seat, llm: object) -> None:
        apply(seat, llm)
        ctx = llm._ctx.ctx  # type: ignore[attr-defined]
        seen.setdefault(seat, []).append(llama_cpp.llama_n_threads(ctx))

    monkeypatch.setattr(thread_share.Seat, "apply", recording)
    engine = EmbeddedEngine(
        data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=2, n_ctx=512, threads=8, batching=False
    )
    try:
        # Load both objects first: then every answer below reuses one, and none has a load to report.
        loads = await asyncio.gather(collect(engine, ask("Hi", num_predict=1)), collect(engine, ask("Yo", num_predict=1)))
        assert all(final.usage and final.usage.load_s and final.usage.load_s > 0 for _, final in loads)
        seen.clear()
        runs = await asyncio.gather(*(collect(engine, ask("Count to ten.", num_predict=24, seed=s)) for s in (1, 2, 3)))
    finally:
        await engine.aclose()
    usages = [final.usage for _, final in runs]
    assert all(u is not None and u.load_s is None for u in usages), "a reused object has no load to report"
    waits = sorted(u.wait_s or 0.0 for u in usages if u is not None)
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0, "exactly the third answer waited for a free slot"
    shares = sorted(seen.values(), key=len)
    assert len(shares) == 3
    assert all(len(set(s)) == 1 for s in shares), f"each answer ran on one share from start to end: {shares}"
    assert sum(set(s) == {4} for s in shares) >= 2, f"the two answers generated together ran on 4 threads each: {shares}"
    # The third joined when one of them finished: four if the other still ran, eight if not.
    assert all(set(s) <= {4, 8} for s in shares)


def test_the_thread_share_shrinks_as_generations_join_and_never_grows_back() -> None:
    from arena.engines.thread_share import ThreadShare

    share = ThreadShare(8)
    first = share.join()
    assert first.threads() == 8
    second, third = share.join(), share.join()
    assert [s.threads() for s in (first, second, third)] == [2, 2, 2], "never more threads than cores"
    third.leave()
    # The two left keep the share they ran on, so a longer answer does not speed up when a shorter ends.
    assert [first.threads(), second.threads()] == [2, 2]
    first.leave()
    second.leave()
    assert share.join().threads() == 8 and share.running == 1
