"""The OpenAI-compatible engine against a real llama_cpp.server and a fault-injecting double.

The real server (SmolLM2 behind `python -m llama_cpp.server`) proves the engine works with
a server we did not write. Faults a real server will not produce on demand (rate limits,
errors mid-stream, stalls, garbage) come from `FaultServer` (tests/support/doubles/openai_faults.py),
a small HTTP server that speaks the OpenAI streaming protocol byte by byte and misbehaves on request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from arena.endpoints import parse_openai_endpoints
from arena.engines.base import Chunk, GenerationRequest, Message, SamplingOptions
from arena.engines.openai import OpenAIEngine
from arena.errors import (
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    ModelNotAvailable,
)
from tests.support.doubles.openai_faults import FAULT_KEY, FaultServer, running_fault_server
from tests.support.llama_server import LlamaServer, llama_server
from tests.support.process import free_port

pytestmark = pytest.mark.anyio

REAL_KEY = "sk-real-fedcba9876543210"


def ask(model: str, text: str = "Say hello.", **options: Any) -> GenerationRequest:
    return GenerationRequest(
        model=model,
        messages=[Message(role="user", content=text)],
        options=SamplingOptions(**{"temperature": 0.2, "seed": 42, **options}),
    )


async def collect(engine: OpenAIEngine, request: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in engine.stream(request)]


async def collect_until_error(engine: OpenAIEngine, request: GenerationRequest) -> tuple[str, EngineError]:
    """The text that arrived before the stream failed, and the failure."""
    texts: list[str] = []
    with pytest.raises(EngineError) as raised:
        async for chunk in engine.stream(request):
            texts.append(chunk.text)
    return "".join(texts), raised.value


@asynccontextmanager
async def open_engine(base_url: str, *, api_key: str | None = FAULT_KEY, timeout: float = 5.0,
                      name: str = "fault") -> AsyncIterator[OpenAIEngine]:  # fmt: skip
    engine = OpenAIEngine(name=name, base_url=base_url, api_key=api_key, timeout=timeout)
    try:
        yield engine
    finally:
        await engine.aclose()


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with running_fault_server() as server:
        yield server


# -- against a real llama_cpp.server ----------------------------------------------------------


@pytest.fixture(scope="module")
def real_server() -> Iterator[LlamaServer]:
    with llama_server(api_key=REAL_KEY) as server:
        yield server


async def test_lists_the_real_servers_model(real_server: LlamaServer) -> None:
    async with open_engine(real_server.base_url, api_key=REAL_KEY, name="llama") as engine:
        models = await engine.list_models()
    assert [(m.id, m.engine, m.name, m.endpoint) for m in models] == [
        (f"openai:llama/{real_server.model}", "openai", real_server.model, "llama")
    ]


async def test_streams_a_short_answer_from_the_real_server(real_server: LlamaServer) -> None:
    async with open_engine(real_server.base_url, api_key=REAL_KEY, timeout=60) as engine:
        chunks = await collect(engine, ask(real_server.model, "Name three colours.", num_predict=16))
    texts = [c.text for c in chunks if c.text]
    final = chunks[-1]
    assert len(texts) >= 2, "the answer should arrive token by token, not in one piece"
    assert "".join(texts).strip()
    assert final.usage is not None and final.finish_reason in ("stop", "length")
    # llama_cpp.server sends no usage: the engine counts streamed tokens itself.
    assert 0 < final.usage.completion_tokens <= 16
    assert final.usage.prompt_tokens is None
    assert all(c.usage is None for c in chunks[:-1])


async def test_closing_the_stream_early_leaves_the_real_server_serving(real_server: LlamaServer) -> None:
    async with open_engine(real_server.base_url, api_key=REAL_KEY, timeout=60) as engine:
        stream = engine.stream(ask(real_server.model, "Tell a long story.", num_predict=1000))
        first = [await anext(stream), await anext(stream), await anext(stream)]
        await stream.aclose()
        assert any(c.text for c in first)
        started = time.monotonic()
        chunks = await collect(engine, ask(real_server.model, "Say yes.", num_predict=4))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    # Had the server gone on generating 1000 tokens (about 40 s on two cores), the next answer
    # would have waited for them; once it notices the hang-up it takes well under a second.
    assert time.monotonic() - started < 15


async def test_a_judge_schema_gets_json_from_llama_cpp_python(real_server: LlamaServer) -> None:
    schema = {"type": "object", "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]}},
              "required": ["winner"], "additionalProperties": False}  # fmt: skip
    request = GenerationRequest(
        model=real_server.model,
        messages=[Message(role="user", content="Answer A or B, in JSON: which letter comes first?")],
        options=SamplingOptions(temperature=0.1, seed=7, num_predict=64),
        json_schema=schema,
    )
    async with open_engine(real_server.base_url, api_key=REAL_KEY, timeout=60) as engine:
        chunks = await collect(engine, request)
    verdict = json.loads("".join(c.text for c in chunks))
    assert verdict["winner"] in ("A", "B", "tie")


async def test_the_real_server_refuses_a_wrong_key_with_advice(real_server: LlamaServer) -> None:
    async with open_engine(real_server.base_url, api_key="sk-wrong", name="my-llama") as engine:
        with pytest.raises(EngineRejected, match="ARENA_OPENAI_KEY_MY_LLAMA"):
            await engine.list_models()
        health = await engine.health()
    assert health.reachable is False and "API key" in health.detail
    async with open_engine(real_server.base_url, api_key=REAL_KEY, name="my-llama") as engine:
        health = await engine.health()
    assert (health.engine, health.endpoint, health.reachable) == ("openai", "my-llama", True)


# -- the request the engine sends -------------------------------------------------------------


async def test_sends_the_options_the_servers_understand(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        await collect(engine, ask("echo", temperature=0.3, top_p=0.8, top_k=20, repeat_penalty=1.2, num_predict=32,
                                  seed=9))  # fmt: skip
        await collect(engine, ask("echo", num_predict=-1, seed=0))
    first, second = fault_server.chat_requests("echo")
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == f"Bearer {FAULT_KEY}"
    body = first["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert (body["temperature"], body["top_p"], body["top_k"], body["repeat_penalty"]) == (0.3, 0.8, 20, 1.2)
    assert body["repetition_penalty"] == 1.2  # vLLM's name for it
    assert (body["max_tokens"], body["seed"]) == (32, 9)
    assert "response_format" not in body
    # -1 tokens means "no limit" and seed 0 means "random": neither is sent.
    assert "max_tokens" not in second["body"] and "seed" not in second["body"]


async def test_built_from_settings_with_the_key_from_the_environment(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARENA_OPENAI_KEY_FAULT", FAULT_KEY)
    [endpoint] = parse_openai_endpoints(f"fault={fault_server.base_url}/")
    engine = OpenAIEngine.from_endpoint(endpoint, timeout=5)
    try:
        assert [m.name for m in await engine.list_models()] == ["echo", "org/model:7b"]
    finally:
        await engine.aclose()
    assert engine.endpoint == fault_server.base_url
    assert fault_server.requests[0]["headers"]["Authorization"] == f"Bearer {FAULT_KEY}"


async def test_no_key_means_no_authorization_header(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url, api_key=None) as engine:
        with pytest.raises(EngineRejected, match="is missing"):
            await engine.list_models()
    assert "Authorization" not in fault_server.requests[0]["headers"]


async def test_json_schema_uses_openai_form_then_falls_back_once(fault_server: FaultServer) -> None:
    schema = {"type": "object", "properties": {"winner": {"type": "string"}}}
    request = GenerationRequest(model="schema-picky", messages=[Message(role="user", content="Judge")],
                                json_schema=schema)  # fmt: skip
    async with open_engine(fault_server.base_url) as engine:
        assert json.loads("".join(c.text for c in await collect(engine, request))) == {"winner": "A"}
        await collect(engine, request)
    formats = [r["body"]["response_format"] for r in fault_server.chat_requests("schema-picky")]
    assert formats == [
        {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}},
        {"type": "json_object", "schema": schema},
        {"type": "json_object", "schema": schema},  # remembered: no second refusal
    ]


# -- what comes back ---------------------------------------------------------------------------


async def test_list_models_names_them_by_endpoint(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        models = await engine.list_models()
    assert [m.id for m in models] == ["openai:fault/echo", "openai:fault/org/model:7b"]
    assert {(m.engine, m.endpoint) for m in models} == {("openai", "fault")}


async def test_keepalive_comments_crlf_and_split_characters(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        chunks = await collect(engine, ask("keepalive"))
    assert [c.text for c in chunks[:-1]] == ["café", " ok"]
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


async def test_usage_from_the_server_wins_over_counting(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        chunks = await collect(engine, ask("usage-timings"))
    assert "".join(c.text for c in chunks) == "one two three"
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (12, 5)
    assert usage.generation_s == pytest.approx(0.25)
    assert chunks[-1].finish_reason == "stop"


async def test_llama_cpp_timings_give_counts_when_usage_is_absent(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        chunks = await collect(engine, ask("timings-only"))
    usage = chunks[-1].usage
    assert usage is not None
    # prompt_n counts only the tokens not already cached.
    assert (usage.prompt_tokens, usage.completion_tokens, usage.generation_s) == (12, 4, pytest.approx(0.1))
    assert chunks[-1].finish_reason == "length"


async def test_prompt_cache_and_prompt_time_come_from_usage_or_timings(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        llama_cpp = (await collect(engine, ask("usage-timings")))[-1].usage
        openai = (await collect(engine, ask("cached-usage")))[-1].usage
        silent = (await collect(engine, ask("echo")))[-1].usage
    assert llama_cpp is not None and openai is not None and silent is not None
    # llama.cpp's server: cache_n of the prompt came from its cache; prompt_ms processed the rest.
    assert (llama_cpp.cached_prompt_tokens, llama_cpp.prompt_s) == (9, pytest.approx(0.012))
    # OpenAI, vLLM: usage.prompt_tokens_details.cached_tokens, no prompt time.
    assert (openai.prompt_tokens, openai.cached_prompt_tokens, openai.prompt_s) == (1200, 1024, None)
    # A server that says nothing: unknown, never "nothing cached".
    assert (silent.cached_prompt_tokens, silent.prompt_s) == (None, None)


async def test_without_usage_or_timings_tokens_are_counted(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        chunks = await collect(engine, ask("echo"))
    assert [c.text for c in chunks] == ["Hel", "lo", ""]
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (None, 2)


async def test_a_server_that_ignores_stream_true_still_answers(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        chunks = await collect(engine, ask("not-streamed"))
    assert chunks[0].text == "Hi there"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


async def test_closing_the_generator_closes_the_connection(fault_server: FaultServer) -> None:
    # One connection in the pool: were the response left open, the next request would wait for it.
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        engine = OpenAIEngine(name="fault", base_url=fault_server.base_url, api_key=FAULT_KEY, timeout=2.0,
                              client=client)  # fmt: skip
        stream = engine.stream(ask("endless"))
        assert (await anext(stream)).text == "t0 "
        await stream.aclose()
        # 500 chunks would take 5 s to send; the server notices the hang-up at its next write.
        assert await wait_for_event(fault_server.disconnected, timeout=2.0)
        assert "".join(c.text for c in await collect(engine, ask("echo"))) == "Hello"
        await engine.aclose()
        assert not client.is_closed, "the engine closes only a client it created"


async def test_num_predict_zero_generates_nothing_without_asking(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        chunks = await collect(engine, ask("echo", num_predict=0))
    assert [(c.text, c.usage and c.usage.completion_tokens) for c in chunks] == [("", 0)]
    assert fault_server.requests == []


# -- faults -------------------------------------------------------------------------------------


async def test_connection_refused_says_to_start_the_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with open_engine(url, name="vllm") as engine:
        with pytest.raises(EngineUnavailable) as raised:
            await collect(engine, ask("any"))
        assert str(raised.value) == f"no OpenAI-compatible server at {url} (endpoint 'vllm'): is it running?"
        with pytest.raises(EngineUnavailable, match="is it running"):
            await engine.list_models()
        health = await engine.health()
    assert health.reachable is False and "is it running" in health.detail


async def test_wrong_key_is_rejected_with_the_variable_to_set(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url, api_key="sk-wrong-key-42") as engine:
        with pytest.raises(EngineRejected, match="ARENA_OPENAI_KEY_FAULT") as raised:
            await collect(engine, ask("echo"))
    assert "API key for endpoint 'fault' was refused" in str(raised.value)
    assert "sk-wrong-key-42" not in str(raised.value)  # the server quoted it; we do not


async def test_unknown_model_is_not_available(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        with pytest.raises(ModelNotAvailable, match="model 'no-such-model' is not available at endpoint 'fault'"):
            await collect(engine, ask("no-such-model"))


@pytest.mark.parametrize(
    ("model", "expected"),
    [("rate-limited", "rate-limited .*Rate limit reached.*retry after 7 s"), ("loading", "busy .*Loading model")],
)
async def test_busy_servers_are_unavailable_for_now(fault_server: FaultServer, model: str, expected: str) -> None:
    async with open_engine(fault_server.base_url) as engine:
        with pytest.raises(EngineUnavailable, match=expected):
            await collect(engine, ask(model))


async def test_an_error_mid_stream_keeps_the_text_already_sent(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        text, error = await collect_until_error(engine, ask("error-mid-stream"))
    assert text == "Partial answer"
    assert type(error) is EngineError and "CUDA out of memory" in str(error)


async def test_garbage_in_the_stream_is_a_protocol_error(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        text, error = await collect_until_error(engine, ask("garbage"))
    assert text == "ok" and isinstance(error, EngineProtocolError) and "not JSON" in str(error)


async def test_a_stream_cut_off_before_done_is_an_error(fault_server: FaultServer) -> None:
    async with open_engine(fault_server.base_url) as engine:
        text, error = await collect_until_error(engine, ask("truncated"))
    assert text == "cut off" and isinstance(error, EngineProtocolError) and "cut short" in str(error)


async def test_a_bare_done_without_a_finish_reason_is_an_error_not_an_empty_answer(fault_server: FaultServer) -> None:
    """An empty answer stored as finished would be shown "done" and voted on."""
    async with open_engine(fault_server.base_url) as engine:
        text, error = await collect_until_error(engine, ask("done-without-reason"))
    assert text == "" and isinstance(error, EngineProtocolError) and "without saying why" in str(error)


@pytest.mark.parametrize(("model", "text_before"), [("slow", ""), ("stalls", "started")])
async def test_silence_longer_than_the_timeout(fault_server: FaultServer, model: str, text_before: str) -> None:
    async with open_engine(fault_server.base_url, timeout=0.5) as engine:
        text, error = await collect_until_error(engine, ask(model))
    assert text == text_before and isinstance(error, EngineTimeout) and "0.5 s" in str(error)


@pytest.mark.parametrize(
    ("path", "expected"), [("/html/v1", "did not answer with an OpenAI model list"), ("/nothing", "end with /v1")]
)
async def test_a_base_url_that_is_not_an_openai_api(fault_server: FaultServer, path: str, expected: str) -> None:
    base = fault_server.base_url.removesuffix("/v1") + path
    async with open_engine(base) as engine:
        with pytest.raises(EngineProtocolError, match=expected):
            await engine.list_models()
        assert (await engine.health()).reachable is False


async def test_no_httpx_exception_escapes_an_unusable_url() -> None:
    async with open_engine("ftp://127.0.0.1/v1") as engine:
        with pytest.raises(EngineError):
            await collect(engine, ask("echo"))
        with pytest.raises(EngineError):
            await engine.list_models()
        assert (await engine.health()).reachable is False


# -- the key stays secret -----------------------------------------------------------------------


async def test_the_key_never_appears_in_repr_errors_or_logs(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    messages: list[str] = []
    async with open_engine(fault_server.base_url, api_key=FAULT_KEY) as engine:
        assert FAULT_KEY not in repr(engine) and FAULT_KEY not in str(vars(engine))
        await collect(engine, ask("echo"))
        for model in ("no-such-model", "rate-limited", "error-mid-stream", "garbage"):
            messages.append(str((await collect_until_error(engine, ask(model)))[1]))
        messages.append((await engine.health()).detail)
    async with open_engine(fault_server.base_url, api_key=FAULT_KEY + "-revoked") as engine:
        messages.append(str((await collect_until_error(engine, ask("echo")))[1]))
        messages.append((await engine.health()).detail)
    assert fault_server.requests[0]["headers"]["Authorization"] == f"Bearer {FAULT_KEY}"  # it was used
    assert caplog.records, "the check is only meaningful if something was logged"
    for text in [*messages, caplog.text]:
        assert FAULT_KEY not in text


# -- helpers ------------------------------------------------------------------------------------


async def wait_for_event(event: threading.Event, *, timeout: float) -> bool:
    return bool(await anyio.to_thread.run_sync(event.wait, timeout))
