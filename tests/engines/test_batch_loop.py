"""The embedded engine's decode loop with the real SmolLM2: many answers of one model in one
batch, each with its own settings, stop, error and timing.

Where the text of a batched answer equals the same answer alone: llama.cpp's sums depend on
the batch's shape (how many rows a step multiplies, how long the shared KV cache is), so a
near-tie between two tokens can fall the other way once other sequences share the batch. On
this model greedy answers agree for a few dozen tokens and then may part; sampled answers part
sooner. What holds exactly: the same answers started together again give the same text
(deterministic for one batch shape), and short greedy answers match their runs alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arena.engines.base import Chunk, GenerationRequest, Message, SamplingOptions
from arena.engines.batch.loop import DecodeLoop
from arena.engines.batch.sequence import Sequence
from arena.engines.catalog import SMOLLM2_NAME
from arena.engines.embedded import EmbeddedEngine
from arena.errors import EngineError, EngineRejected
from tests.support.engine_answers import collect
from tests.support.waiting import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    # One thread: llama.cpp's threads spin, and the test machine's cores are shared.
    engine = EmbeddedEngine(data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=4, n_ctx=512, threads=1)
    yield engine
    await engine.aclose()


def ask(text: str, **options: object) -> GenerationRequest:
    return GenerationRequest(
        model=SMOLLM2_NAME, messages=[Message(role="user", content=text)], options=SamplingOptions(**options)
    )



GREEDY = [  # top_k=1: the most likely token every step, whatever the temperature
    ask("Write a haiku about rain.", top_k=1, num_predict=20, temperature=0.2),
    ask("Write a haiku about rain.", top_k=1, num_predict=16, temperature=1.5, repeat_penalty=1.3),
    ask("Name three rivers.", top_k=1, num_predict=20, top_p=0.5),
    ask("What is the capital of France?", top_k=1, num_predict=12),
]


async def test_greedy_answers_in_one_batch_are_the_answers_alone(engine: EmbeddedEngine) -> None:
    alone = [await collect(engine, request) for request in GREEDY]
    together = await asyncio.gather(*(collect(engine, request) for request in GREEDY))
    assert [text for text, _ in together] == [text for text, _ in alone]
    assert all(text for text, _ in alone)
    usages = [final.usage for _, final in together]
    assert all(u is not None for u in usages)
    # The two identical prompts share all but their last token; the others the chat template's start.
    assert usages[0].shared_prompt_tokens == usages[1].shared_prompt_tokens == usages[0].prompt_tokens - 1  # type: ignore[union-attr,operator]
    assert all(u.shared_prompt_tokens and u.shared_prompt_tokens > 5 for u in usages)  # type: ignore[union-attr]
    assert all(final.usage and final.usage.shared_prompt_tokens == 0 for _, final in alone)
    assert all(u.generation_s and u.prompt_s is not None and u.wait_s == 0.0 for u in usages)  # type: ignore[union-attr]


async def test_sampled_answers_started_together_again_repeat_their_text(engine: EmbeddedEngine) -> None:
    requests = [ask("Tell me a story.", num_predict=24, temperature=t, seed=s) for t, s in ((0.7, 1), (1.2, 2), (1.0, 3))]
    first = await asyncio.gather(*(collect(engine, r) for r in requests))
    second = await asyncio.gather(*(collect(engine, r) for r in requests))
    assert [t for t, _ in first] == [t for t, _ in second]
    assert len({t for t, _ in first}) == 3, "each sequence samples with its own settings and seed"


async def test_closing_one_stream_leaves_the_others_running(engine: EmbeddedEngine) -> None:
    async def stop_early() -> int:
        stream = engine.stream(ask("Write a long essay about rivers.", num_predict=200, seed=5))
        pieces = 0
        async for chunk in stream:
            pieces += bool(chunk.text)
            if pieces == 2:
                break
        await stream.aclose()
        return pieces

    others = [ask("Write a long essay about mountains.", num_predict=24, top_k=1, seed=s) for s in (1, 2)]
    stopped, *finished = await asyncio.gather(stop_early(), *(collect(engine, r) for r in others))
    assert stopped == 2
    for text, final in finished:
        assert final.finish_reason == "length" and final.usage and final.usage.completion_tokens == 24 and text
    loop = engine._batched.loop(SMOLLM2_NAME)
    assert loop is not None
    # The loop thread tidies up a moment after the last answer's final chunk.
    assert await eventually(lambda: loop.running == 0 and len(loop._free) == 4), "every slot is free again"
    assert await eventually(lambda: engine._share.running == 0), "an idle loop holds no share of the cores"


async def test_a_failing_sequence_ends_alone(engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    advance = DecodeLoop._advance

    def faulty(loop: DecodeLoop, seq: Sequence, index: int, now: float) -> None:
        if seq.request.options.seed == 666 and seq.generated == 3:
            raise RuntimeError("injected sampler fault")
        advance(loop, seq, index, now)

    monkeypatch.setattr(DecodeLoop, "_advance", faulty)
    too_long = ask("word " * 600, num_predict=8)
    results = await asyncio.gather(
        collect(engine, ask("Count to twenty.", num_predict=16, seed=666)),
        collect(engine, too_long),
        collect(engine, ask("Count to twenty.", num_predict=16, top_k=1, seed=1)),
        collect(engine, ask("Name a colour.", num_predict=16, top_k=1, seed=2)),
        return_exceptions=True,
    )
    assert isinstance(results[0], EngineError) and "injected sampler fault" in str(results[0])
    assert isinstance(results[1], EngineRejected) and "ARENA_EMBEDDED_N_CTX" in str(results[1])
    for result in results[2:]:
        assert not isinstance(result, BaseException), result
        text, final = result
        assert text and final.usage and final.usage.completion_tokens > 0


async def test_a_sequence_joins_a_batch_that_is_already_running(engine: EmbeddedEngine) -> None:
    late_request = ask("What is the capital of France?", top_k=1, num_predict=12)
    late_alone, _ = await collect(engine, late_request)
    order: list[str] = []

    async def early() -> None:
        async for chunk in engine.stream(ask("Write a long essay about the sea.", num_predict=32, top_k=1)):
            if chunk.text:
                order.append("early")

    async def late() -> tuple[str, Chunk]:
        while order.count("early") < 4:
            await asyncio.sleep(0.005)
        text, final = await collect(engine, late_request)
        order.append("late-done")
        return text, final

    _, (text, final) = await asyncio.gather(early(), late())
    assert order.index("late-done") < len(order) - 1, "the early answer kept going after the late one ended"
    assert text == late_alone
    assert final.usage and final.usage.shared_prompt_tokens == 0, "it joined alone: nothing shared"
    assert final.usage.wait_s == 0.0


async def test_a_hundred_answers_through_four_slots_lose_nothing(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arena.engines.batch.context import BatchContext

    widest: list[int] = []
    decode = BatchContext.decode

    def counting(context: BatchContext, plan):  # type: ignore[no-untyped-def]
        widest.append(len({s for entry in plan.entries for s in entry.seq_ids}))
        return decode(context, plan)

    monkeypatch.setattr(BatchContext, "decode", counting)
    loop, _ = await engine.ensure_loop(SMOLLM2_NAME)
    llm = loop.context.llm
    # Raw text of a few tokens, not the chat template's forty: the loop is what is under test.
    loop._prepare = lambda request: (llm.tokenize(request.messages[0].content.encode()), [])
    results = await asyncio.gather(*(collect(engine, ask(f"{i} is", num_predict=2, seed=i + 1)) for i in range(100)))
    assert len(results) == 100
    for _, final in results:
        assert final.finish_reason in ("length", "stop") and final.usage
        assert 1 <= final.usage.completion_tokens <= 2 or final.finish_reason == "stop"
    assert max(widest) == 4, "never more sequences in a step than slots, and the slots were used"
    waits = [final.usage.wait_s for _, final in results if final.usage]
    assert sum(1 for w in waits if w and w > 0) >= 50, "most of them waited for a slot, and said so"


async def test_judges_with_a_grammar_and_a_plain_answer_share_a_batch(engine: EmbeddedEngine) -> None:
    schema = {"type": "object", "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]}}, "required": ["winner"]}

    def judge(seed: int) -> GenerationRequest:
        return GenerationRequest(
            model=SMOLLM2_NAME,
            messages=[Message(role="user", content="Which is better, A or B? Answer in JSON.")],
            options=SamplingOptions(num_predict=24, temperature=0.7, seed=seed),
            json_schema=schema,
        )

    (first, _), (second, _), (plain, _) = await asyncio.gather(
        collect(engine, judge(1)), collect(engine, judge(2)), collect(engine, ask("Say hello.", num_predict=8, seed=3))
    )
    assert json.loads(first)["winner"] in ("A", "B", "tie")
    assert json.loads(second)["winner"] in ("A", "B", "tie")
    assert plain and not plain.lstrip().startswith("{")


async def test_two_models_decode_loops_split_the_cores_between_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each loop is one seat of the thread share: two models running at once get half each."""
    from arena.engines.batch.context import BatchContext
    from arena.engines.catalog import smollm2_gguf_path

    models = tmp_path / "models"
    models.mkdir()
    (models / "second.gguf").symlink_to(smollm2_gguf_path())
    applied: dict[int, set[int]] = {}
    set_threads = BatchContext.set_threads

    def recording(context: BatchContext, n_threads: int) -> None:
        applied.setdefault(id(context), set()).add(n_threads)
        set_threads(context, n_threads)

    monkeypatch.setattr(BatchContext, "set_threads", recording)
    engine = EmbeddedEngine(data_dir=tmp_path / "data", models_dir=models, slots=2, n_ctx=512, threads=2)
    try:
        for name in (SMOLLM2_NAME, "second"):  # loaded first: a load is no part of the race
            await engine.ensure_loop(name)
        second = GenerationRequest(
            model="second", messages=[Message(role="user", content="Count to ten.")], options=SamplingOptions(num_predict=12)
        )
        await asyncio.gather(collect(engine, ask("Count to ten.", num_predict=12)), collect(engine, second))
    finally:
        await engine.aclose()
    # The first loop may take a step on both cores before the second joins; from then on, one each.
    assert len(applied) == 2 and all(1 in threads and max(threads) <= 2 for threads in applied.values()), applied
