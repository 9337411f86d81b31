"""The Ollama engine against the Ollama protocol double, over real sockets."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import httpx
import pytest

from arena.engines.base import Chunk, GenerationRequest, Message, SamplingOptions
from arena.engines.ollama import OllamaEngine
from arena.errors import (
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    ModelNotAvailable,
)
from tests.support.doubles.ollama import (
    BUSY_MESSAGE,
    DEFAULT_MODELS,
    DoubleModel,
    OllamaDouble,
    ollama_server,  # noqa: F401 - the fixture other modules import
)

pytestmark = pytest.mark.anyio

MODEL = DEFAULT_MODELS[0].name


@pytest.fixture
async def engine(double: OllamaDouble) -> AsyncIterator[OllamaEngine]:
    engine = OllamaEngine(base_url=double.url, timeout=10.0)
    yield engine
    await engine.aclose()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def ask(text: str = "Why is the sky blue?", **options: float) -> GenerationRequest:
    return GenerationRequest(
        model=MODEL, messages=[Message(role="user", content=text)], options=SamplingOptions(**options)
    )


async def collect(
    engine: OllamaEngine, request: GenerationRequest, into: list[Chunk] | None = None
) -> list[Chunk]:
    """Every chunk of one answer; `into` keeps those that arrived before an error."""
    chunks = [] if into is None else into
    async for chunk in engine.stream(request):
        chunks.append(chunk)
    return chunks


# -- models -----------------------------------------------------------------------------


async def test_list_models_reports_each_installed_model(engine: OllamaEngine, double: OllamaDouble) -> None:
    models = await engine.list_models()
    expected = list(double.models.values())
    assert [m.id for m in models] == [f"ollama:{m.tagged_name}" for m in expected]
    for info, model in zip(models, expected):
        assert info.engine == "ollama"
        assert info.name == model.tagged_name
        assert info.endpoint == double.url
        assert info.size == model.size
        assert info.family == model.family
        assert info.parameter_size == model.parameter_size
        assert info.quantization == model.quantization_level


def test_the_shared_fixture_serves_the_default_models(ollama_server: OllamaDouble) -> None:  # noqa: F811
    response = httpx.get(ollama_server.url + "/api/tags")
    assert [m["name"] for m in response.json()["models"]] == [m.tagged_name for m in DEFAULT_MODELS]


# -- streaming --------------------------------------------------------------------------


async def test_stream_yields_each_token_then_the_usage(engine: OllamaEngine, double: OllamaDouble) -> None:
    double.reply = ["Café", " —", " 🦙", " naïve", "."]
    chunks = await collect(engine, ask())
    assert [c.text for c in chunks[:-1]] == double.reply
    assert all(c.usage is None for c in chunks[:-1])
    final = chunks[-1]
    metrics = double.metrics
    assert final.text == ""
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.prompt_tokens == metrics.prompt_eval_count
    assert final.usage.completion_tokens == len(double.reply)
    assert final.usage.generation_s == pytest.approx(metrics.eval_duration / 1e9)
    assert final.usage.load_s == pytest.approx(metrics.load_duration / 1e9)
    assert final.usage.prompt_s == pytest.approx(metrics.prompt_eval_duration / 1e9)
    # Ollama reports the tokens it evaluated, not those its cache served: unknown, not 0.
    assert final.usage.cached_prompt_tokens is None


async def test_stream_sends_messages_and_every_option(engine: OllamaEngine, double: OllamaDouble) -> None:
    options = SamplingOptions(temperature=0.3, top_p=0.8, top_k=20, repeat_penalty=1.3, num_predict=64, seed=42)
    messages = [
        Message(role="system", content="Answer briefly."),
        Message(role="user", content="Hi"),
        Message(role="assistant", content="Hello!"),
        Message(role="user", content="Why is the sky blue?"),
    ]
    await collect(engine, GenerationRequest(model=MODEL, messages=messages, options=options))
    [body] = double.bodies("/api/chat")
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in messages]
    assert body["options"] == {
        "temperature": 0.3,
        "top_p": 0.8,
        "top_k": 20,
        "repeat_penalty": 1.3,
        "num_predict": 64,
        "seed": 42,
    }
    assert "format" not in body


async def test_seed_zero_means_random_and_is_not_sent(engine: OllamaEngine, double: OllamaDouble) -> None:
    await collect(engine, ask(seed=0))
    [body] = double.bodies("/api/chat")
    assert "seed" not in body["options"]
    assert body["options"]["temperature"] == SamplingOptions().temperature


async def test_json_schema_is_sent_as_format(engine: OllamaEngine, double: OllamaDouble) -> None:
    schema = {"type": "object", "properties": {"winner": {"enum": ["A", "B", "tie"]}}, "required": ["winner"]}
    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Judge")], json_schema=schema)
    await collect(engine, request)
    [body] = double.bodies("/api/chat")
    assert body["format"] == schema


async def test_num_predict_cuts_the_answer_with_finish_reason_length(
    engine: OllamaEngine,
    double: OllamaDouble,
) -> None:
    chunks = await collect(engine, ask(num_predict=3))
    assert [c.text for c in chunks[:-1]] == double.reply[:3]
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


async def test_closing_the_stream_early_disconnects_from_ollama(
    engine: OllamaEngine,
    double: OllamaDouble,
) -> None:
    # A stream read to the end is not a disconnect...
    await collect(engine, ask())
    assert not await double.wait_for_disconnect(timeout=0.2)
    # ...while one abandoned after its first token is seen by the server.
    double.reply = [f" token{i}" for i in range(200)]
    double.token_delay = 0.05
    stream = engine.stream(ask())
    first = await stream.__anext__()
    await stream.aclose()  # type: ignore[attr-defined]
    assert first.text == " token0"
    assert await double.wait_for_disconnect(timeout=5)


async def test_cancelling_the_consumer_disconnects_from_ollama(engine: OllamaEngine, double: OllamaDouble) -> None:
    double.reply = [f" token{i}" for i in range(200)]
    double.token_delay = 0.05
    chunks: list[Chunk] = []
    with anyio.move_on_after(0.3):
        await collect(engine, ask(), into=chunks)
    assert 0 < len(chunks) < len(double.reply)
    assert await double.wait_for_disconnect(timeout=5)


# -- faults -----------------------------------------------------------------------------


async def test_a_model_that_is_not_pulled_says_how_to_pull_it(engine: OllamaEngine) -> None:
    request = GenerationRequest(model="mistral:7b", messages=[Message(role="user", content="Hi")])
    with pytest.raises(ModelNotAvailable, match=r"model 'mistral:7b' is not pulled: run `arena pull mistral:7b`"):
        await collect(engine, request)


async def test_a_busy_ollama_is_unavailable_for_now(engine: OllamaEngine, double: OllamaDouble) -> None:
    double.busy = True
    with pytest.raises(EngineUnavailable, match="busy") as caught:
        await collect(engine, ask())
    assert double.url in str(caught.value)
    assert BUSY_MESSAGE in str(caught.value)


async def test_a_refused_request_carries_ollamas_reason(engine: OllamaEngine) -> None:
    request = GenerationRequest(model="", messages=[Message(role="user", content="Hi")])
    with pytest.raises(EngineRejected, match="model is required") as caught:
        await collect(engine, request)
    assert not isinstance(caught.value, ModelNotAvailable)


async def test_an_error_line_mid_stream_keeps_the_text_already_streamed(
    engine: OllamaEngine,
    double: OllamaDouble,
) -> None:
    double.error_after = 3
    chunks: list[Chunk] = []
    with pytest.raises(EngineError, match=double.error_message) as caught:
        await collect(engine, ask(), into=chunks)
    assert type(caught.value) is EngineError
    assert [c.text for c in chunks] == double.reply[:3]


async def test_a_cut_connection_keeps_the_text_already_streamed(
    engine: OllamaEngine,
    double: OllamaDouble,
) -> None:
    double.cut_after = 2
    chunks: list[Chunk] = []
    with pytest.raises(EngineUnavailable, match="broke off the connection"):
        await collect(engine, ask(), into=chunks)
    assert [c.text for c in chunks] == double.reply[:2]


async def test_a_garbage_line_is_a_protocol_error_naming_it(engine: OllamaEngine, double: OllamaDouble) -> None:
    double.garbage_after = 1
    with pytest.raises(EngineProtocolError, match="502 Bad Gateway"):
        await collect(engine, ask())


async def test_a_closed_port_says_to_start_ollama() -> None:
    url = closed_port_url()
    engine = OllamaEngine(base_url=url, timeout=5.0)
    try:
        expected = rf"Ollama is not running at {url}: start it with `ollama serve` or set OLLAMA_HOST"
        with pytest.raises(EngineUnavailable, match=expected):
            await collect(engine, ask())
        with pytest.raises(EngineUnavailable, match=expected):
            await engine.list_models()
    finally:
        await engine.aclose()


async def test_a_slow_first_token_times_out(double: OllamaDouble) -> None:
    double.first_token_delay = 3.0
    engine = OllamaEngine(base_url=double.url, timeout=0.3)
    try:
        with pytest.raises(EngineTimeout, match="did not answer within 0.3 s"):
            await collect(engine, ask())
    finally:
        await engine.aclose()


@dataclass(frozen=True)
class Fault:
    name: str
    arrange: Callable[[OllamaDouble], None]
    expected: type[EngineError]


def _set(**knobs: object) -> Callable[[OllamaDouble], None]:
    def arrange(double: OllamaDouble) -> None:
        for knob, value in knobs.items():
            setattr(double, knob, value)

    return arrange


FAULTS = [
    Fault("model missing", lambda d: d.models.clear(), ModelNotAvailable),
    Fault("busy", _set(busy=True), EngineUnavailable),
    Fault("error line", _set(error_after=1), EngineError),
    Fault("cut connection", _set(cut_after=1), EngineUnavailable),
    Fault("garbage", _set(garbage_after=0), EngineProtocolError),
    Fault("slow first token", _set(first_token_delay=2.0), EngineTimeout),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_no_httpx_exception_leaks_from_a_fault(double: OllamaDouble, fault: Fault) -> None:
    fault.arrange(double)
    engine = OllamaEngine(base_url=double.url, timeout=0.5)
    try:
        with pytest.raises(EngineError) as caught:
            await collect(engine, ask())
    finally:
        await engine.aclose()
    assert type(caught.value) is fault.expected
    assert not isinstance(caught.value, httpx.HTTPError)


# -- health -----------------------------------------------------------------------------


async def test_health_reports_the_running_version(engine: OllamaEngine, double: OllamaDouble) -> None:
    double.version = "0.9.1"
    health = await engine.health()
    assert health.reachable is True
    assert health.version == "0.9.1"
    assert health.engine == "ollama"
    assert health.endpoint == double.url


async def test_health_of_a_stopped_ollama_is_unreachable_without_raising() -> None:
    url = closed_port_url()
    engine = OllamaEngine(base_url=url)
    try:
        health = await engine.health()
    finally:
        await engine.aclose()
    assert health.reachable is False
    assert health.version is None
    assert "ollama serve" in health.detail


async def test_health_of_a_server_that_is_not_ollama_is_unreachable(double: OllamaDouble) -> None:
    engine = OllamaEngine(base_url=double.url + "/not-ollama")
    try:
        health = await engine.health()
    finally:
        await engine.aclose()
    assert health.reachable is False
    assert "404" in health.detail


# -- pull, delete, show -----------------------------------------------------------------


async def test_pull_streams_progress_and_the_model_is_then_listed(
    engine: OllamaEngine,
    double: OllamaDouble,
) -> None:
    wanted = DoubleModel(name="smollm2:135m", size=270_898_672, family="llama", parameter_size="135M")
    double.library[wanted.tagged_name] = wanted
    progress = [p async for p in engine.pull("smollm2:135m")]

    assert progress[0].status == "pulling manifest"
    assert progress[-1].status == "success"
    downloads = [p for p in progress if p.status.startswith("downloading")]
    assert downloads and all(p.total == wanted.size for p in downloads)
    assert all(p.digest == f"sha256:{wanted.digest}" for p in downloads)
    completed = [p.completed for p in downloads if p.completed is not None]
    assert completed == sorted(completed) and completed[-1] == wanted.size
    assert "verifying sha256 digest" in [p.status for p in progress]
    assert double.bodies("/api/pull") == [{"model": "smollm2:135m", "stream": True}]
    assert "ollama:smollm2:135m" in [m.id for m in await engine.list_models()]


async def test_pulling_a_name_missing_from_the_library_is_model_not_available(engine: OllamaEngine) -> None:
    with pytest.raises(ModelNotAvailable, match="not in the Ollama library"):
        async for _ in engine.pull("no-such-model:1b"):
            pass


async def test_delete_removes_the_model(engine: OllamaEngine, double: OllamaDouble) -> None:
    await engine.delete(MODEL)
    assert double.bodies("/api/delete") == [{"model": MODEL}]
    assert f"ollama:{MODEL}" not in [m.id for m in await engine.list_models()]


async def test_deleting_a_missing_model_is_model_not_available(engine: OllamaEngine) -> None:
    with pytest.raises(ModelNotAvailable, match="nothing to delete"):
        await engine.delete("never-pulled:1b")


async def test_show_describes_an_installed_model(engine: OllamaEngine, double: OllamaDouble) -> None:
    description = await engine.show(MODEL)
    assert description["details"]["quantization_level"] == double.models[MODEL].quantization_level
    assert "modelfile" in description
    assert double.bodies("/api/show") == [{"model": MODEL}]


async def test_showing_a_missing_model_is_model_not_available(engine: OllamaEngine) -> None:
    with pytest.raises(ModelNotAvailable, match="arena pull never-pulled:1b"):
        await engine.show("never-pulled:1b")


# -- lifecycle --------------------------------------------------------------------------


async def test_aclose_closes_only_a_client_the_engine_owns(double: OllamaDouble) -> None:
    async with httpx.AsyncClient() as shared:
        borrowing = OllamaEngine(base_url=double.url, client=shared)
        assert len(await borrowing.list_models()) == len(double.models)
        await borrowing.aclose()
        assert not shared.is_closed

    owning = OllamaEngine(base_url=double.url)
    await owning.list_models()
    await owning.aclose()
    assert owning._client.is_closed
