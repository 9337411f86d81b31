"""The OpenAI-compatible gateway through the official `openai` SDK (sync and async, whole and
streamed) against a real arena whose Ollama is the protocol double: what an OpenAI application
gets, what reaches the engine, what is stored, and every refusal in OpenAI's error shape."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import func, select

from arena.storage.models import Conversation, Response, Turn
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(60)

LLAMA = "ollama:llama3.2:1b"
REPLY = "The sky is blue — Rayleigh scattering."
HELLO = [{"role": "user", "content": "Why is the sky blue?"}]

double = module_double  # one double for the whole module


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False, history_limit=4)


@pytest.fixture
def sdk(arena: RunningArena) -> Iterator[openai.OpenAI]:
    # No retries: a refusal must reach the test as the SDK's error, not be tried again.
    with openai.OpenAI(base_url=f"{arena.url}/v1", api_key="unused in mode none", max_retries=0) as client:
        yield client


@pytest.fixture(autouse=True)
def calm_double(double: OllamaDouble) -> Iterator[None]:
    """Each test's own faults: the module's double starts and ends every test healthy."""
    yield
    double.busy, double.error_after, double.token_delay = False, None, 0.0


def stored_rows(arena: RunningArena) -> tuple[int, int, int]:
    with arena.database() as database, database.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Conversation, Turn, Response))  # type: ignore[return-value]


def test_models_lists_every_model_by_its_arena_id(sdk: openai.OpenAI) -> None:
    listed = {model.id: model for model in sdk.models.list()}
    assert set(listed) == {LLAMA, "ollama:qwen2.5:0.5b"}
    assert listed[LLAMA].owned_by == "ollama"
    assert sdk.models.retrieve(LLAMA).id == LLAMA  # an id with ':' in its path
    with pytest.raises(openai.NotFoundError) as refused:
        sdk.models.retrieve("ollama:nothing-here")
    assert refused.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_a_whole_answer_with_its_usage(sdk: openai.OpenAI, double: OllamaDouble) -> None:
    completion = sdk.chat.completions.create(
        model=LLAMA, messages=[{"role": "system", "content": "Be brief."}, *HELLO]  # type: ignore[list-item]
    )
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == LLAMA
    choice = completion.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", REPLY, "stop")
    # The engine's own counts: the double reports 26 prompt tokens and sends 8 tokens.
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (26, 8, 34)
    sent = double.bodies("/api/chat")[-1]
    assert sent["model"] == "llama3.2:1b"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}]
    # No sampling field given: the arena's defaults, as the model's default instance in a chat.
    assert sent["options"] == {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "repeat_penalty": 1.1, "num_predict": -1}  # seed 0: none sent, a random one


def test_openai_sampling_fields_become_the_arena_six(sdk: openai.OpenAI, double: OllamaDouble) -> None:
    completion = sdk.chat.completions.create(
        model=LLAMA, messages=HELLO, temperature=0, top_p=0.5, max_tokens=3, seed=7,  # type: ignore[arg-type]
        extra_body={"repeat_penalty": 1.3},
    )
    # temperature 0 is greedy (top_k 1); max_tokens is num_predict, and an answer cut by it says "length".
    assert double.bodies("/api/chat")[-1]["options"] == {
        "temperature": 0.01, "top_p": 0.5, "top_k": 1, "repeat_penalty": 1.3, "num_predict": 3, "seed": 7,
    }  # fmt: skip
    assert (completion.choices[0].message.content, completion.choices[0].finish_reason) == ("The sky is", "length")
    sdk.chat.completions.create(
        model=LLAMA, messages=HELLO, temperature=1.2, max_completion_tokens=20, extra_body={"top_k": 5}  # type: ignore[arg-type]
    )
    options = double.bodies("/api/chat")[-1]["options"]
    assert (options["temperature"], options["top_k"], options["num_predict"]) == (1.2, 5, 20)


def test_a_stream_with_usage_when_asked(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(model=LLAMA, messages=HELLO, stream=True, stream_options={"include_usage": True})  # type: ignore[arg-type]
    )
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    # The last chunk has no choices and the usage; every one before it says usage null.
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (26, 8)
    assert all(c.usage is None for c in chunks[:-1])


def test_an_async_stream_without_usage(arena: RunningArena) -> None:
    async def run() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=f"{arena.url}/v1", api_key="x", max_retries=0) as client:
            stream = await client.chat.completions.create(model=LLAMA, messages=HELLO, stream=True)  # type: ignore[arg-type]
            whole = await client.chat.completions.create(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
            return [[chunk async for chunk in stream], whole]

    chunks, whole = asyncio.run(run())
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content == REPLY
    assert all(c.usage is None for c in chunks)


def test_a_stream_that_fails_midway_ends_with_an_error_then_done(
    sdk: openai.OpenAI, arena: RunningArena, double: OllamaDouble
) -> None:
    double.error_after = 3
    text = []
    with pytest.raises(openai.APIError, match="unexpected EOF"):
        for chunk in sdk.chat.completions.create(model=LLAMA, messages=HELLO, stream=True):  # type: ignore[arg-type]
            text.append(chunk.choices[0].delta.content or "")
    assert "".join(text) == "The sky is"  # what came before the failure
    with arena.client() as client:
        body = client.post("/v1/chat/completions", json={"model": LLAMA, "messages": HELLO, "stream": True}).text
    events = [line.removeprefix("data: ") for line in body.splitlines() if line]
    assert events[-1] == "[DONE]" and '"error":{"message"' in events[-2]


def test_an_engine_that_is_down_is_503(sdk: openai.OpenAI, double: OllamaDouble) -> None:
    double.busy = True
    for stream in (False, True):  # a stream that fails before its first token is a plain error too
        with pytest.raises(openai.InternalServerError) as refused:
            sdk.chat.completions.create(model=LLAMA, messages=HELLO, stream=stream)  # type: ignore[call-overload]
        assert refused.value.status_code == 503
        assert refused.value.body["type"] == "server_error" and "busy" in refused.value.body["message"]  # type: ignore[index]


@pytest.mark.parametrize("model", ["ollama:not-pulled", "gpt-4o"])
def test_a_model_that_does_not_exist_is_404_naming_it(sdk: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        sdk.chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]
    error = refused.value.body
    assert model in error["message"]  # type: ignore[index]
    assert (error["code"], error["param"], error["type"]) == ("model_not_found", "model", "invalid_request_error")  # type: ignore[index]


IMAGE = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]


@pytest.mark.parametrize(
    ("fields", "param", "says"),
    [
        ({"n": 2}, "n", "one choice"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools", "tools"),
        ({"logprobs": True}, "logprobs", "log probabilities"),
        ({"frequency_penalty": 0.5}, "frequency_penalty", "repeat_penalty"),
        ({"stop": ["\n"]}, "stop", "stop sequences"),
        ({"seed": 0}, "seed", "random seed"),
        ({"max_tokens": 5000}, "max_tokens", "4096"),
        ({"messages": IMAGE}, "messages.0.content", "image_url content"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "messages", "must come from the user"),
        ({"messages": HELLO * 5}, "messages", "HISTORY_LIMIT"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
        ({"messages": [{"role": "system", "content": " "}]}, "messages", "at least one message with text"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_the_field(
    sdk: openai.OpenAI, arena: RunningArena, fields: dict[str, Any], param: str, says: str
) -> None:
    body = {"model": LLAMA, "messages": HELLO, **fields}
    before = stored_rows(arena)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(**{k: body.pop(k) for k in ("model", "messages")}, extra_body=body)  # type: ignore[call-overload]
    error = refused.value.body
    assert (error["param"], error["type"]) == (param, "invalid_request_error")  # type: ignore[index]
    assert says in error["message"]  # type: ignore[index]
    assert stored_rows(arena) == before


def test_system_messages_alone_are_answered_as_openai_does(sdk: openai.OpenAI, double: OllamaDouble) -> None:
    # promptfoo's model-graded assertions send their grading prompt as one system message.
    system_only = [{"role": "system", "content": "Grade this."}, {"role": "developer", "content": "Answer Y or N."}]
    answer = sdk.chat.completions.create(model=LLAMA, messages=system_only)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == REPLY
    # Chat templates need a user turn: the instructions become it.
    assert double.bodies("/api/chat")[-1]["messages"] == [{"role": "user", "content": "Grade this.\n\nAnswer Y or N."}]


def test_other_openai_endpoints_and_a_body_that_is_not_json_say_what_is_wrong(arena: RunningArena) -> None:
    with arena.client() as client:
        embeddings = client.post("/v1/embeddings", json={"model": LLAMA, "input": "hi"})
        completions = client.post("/v1/completions", json={"model": LLAMA, "prompt": "hi"})
        wrong_method = client.get("/v1/chat/completions")
        broken = client.post("/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert embeddings.status_code == completions.status_code == 404
    assert "the arena serves chat completions (POST /v1/chat/completions)" in embeddings.json()["error"]["message"]
    assert completions.json()["error"]["code"] == "unknown_url"
    assert wrong_method.status_code == 405
    assert broken.status_code == 400 and broken.json()["error"]["param"] is None


def test_echoed_assistant_messages_and_text_parts_are_accepted(sdk: openai.OpenAI, double: OllamaDouble) -> None:
    first = sdk.chat.completions.create(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
    # The SDK's own message object sent back as history (with its null refusal, annotations…).
    history = [*HELLO, first.choices[0].message.model_dump(), {"role": "user", "content": [{"type": "text", "text": "And"}, {"type": "text", "text": "at night?"}]}]
    sdk.chat.completions.create(model=LLAMA, messages=history, tool_choice="none")  # type: ignore[arg-type]
    assert double.bodies("/api/chat")[-1]["messages"][1:] == [
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "And\nat night?"},
    ]


def test_nothing_is_stored_unless_asked(sdk: openai.OpenAI, arena: RunningArena) -> None:
    before = stored_rows(arena)
    sdk.chat.completions.create(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
    list(sdk.chat.completions.create(model=LLAMA, messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert stored_rows(arena) == before


@pytest.mark.parametrize("stream", [False, True])
def test_the_store_header_keeps_the_conversation(sdk: openai.OpenAI, arena: RunningArena, stream: bool) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model=LLAMA, messages=[{"role": "system", "content": "Be brief."}, *HELLO], stream=stream,  # type: ignore[list-item]
        extra_headers={"X-Arena-Store": "true"},
    )
    conversation_id = raw.headers["X-Arena-Conversation-Id"]
    if stream:
        list(raw.parse())  # the answer is recorded as it streams, and closed at its end
    with arena.client() as client:
        stored = client.get(f"/api/conversations/{conversation_id}").json()
    turn = stored["turns"][0]
    assert (turn["user_text"], turn["system"]) == ("Why is the sky blue?", "Be brief.")
    answer = turn["responses"][0]
    assert (answer["text"], answer["status"]) == (REPLY, "ok")
    assert [i["model"] for i in stored["instances"]] == [LLAMA]


def test_openais_own_store_field_stores_too(sdk: openai.OpenAI, arena: RunningArena) -> None:
    before = stored_rows(arena)
    raw = sdk.chat.completions.with_raw_response.create(model=LLAMA, messages=HELLO, store=True)  # type: ignore[arg-type]
    assert raw.headers.get("X-Arena-Conversation-Id")
    assert stored_rows(arena) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_the_chat_rate_limit_and_the_generation_budget_hold(double: OllamaDouble, arena_factory: ArenaFactory) -> None:
    limited = arena_factory(ollama_hosts=[double.url], embedded_enabled=False, rate_limit_chat="3/minute", max_streams_per_user=1)
    double.token_delay = 0.2  # a stream that holds its generation for a while
    body = {"model": LLAMA, "messages": HELLO, "stream": True}
    with httpx.Client(base_url=limited.url, timeout=30) as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as running:
            assert running.status_code == 200
            lines = running.iter_lines()  # held: a closed stream would hand its generation back
            next(lines)
            over_cap = client.post("/v1/chat/completions", json={**body, "stream": False})
            assert over_cap.status_code == 429 and over_cap.headers["Retry-After"] == "1", over_cap.text
            assert over_cap.json()["error"]["type"] == "rate_limit_error"
            assert "ARENA_MAX_STREAMS_PER_USER" in over_cap.json()["error"]["message"]
        double.token_delay = 0.0
        # The closed stream hands its generation back as the server sees the hang-up: wait for that
        # (the budget's gauge on /metrics, which no rate limit counts) rather than race it.
        deadline = time.monotonic() + 10
        while "arena_generations_running 0.0" not in client.get("/metrics").text:
            assert time.monotonic() < deadline, "the closed stream kept its generation"
            time.sleep(0.02)
        again = client.post("/v1/chat/completions", json={**body, "stream": False})
        assert again.status_code == 200, again.text
        over_rate = client.post("/v1/chat/completions", json=body)  # the fourth in the chat bucket this minute
    assert over_rate.status_code == 429 and int(over_rate.headers["Retry-After"]) > 0
    assert "Too many chat requests" in over_rate.json()["error"]["message"]


def test_the_rest_of_the_api_keeps_its_own_error_shape(arena: RunningArena) -> None:
    with arena.client() as client:
        assert client.post("/api/chat", json={"models": ["gpt-4o"]}).json()["error"].__class__ is str
        error = client.get("/v1/chat/completions").json()["error"]  # 405, under /v1: OpenAI's shape
    assert "does not take this method" in error["message"] and error["type"] == "invalid_request_error"


def test_a_json_response_format_constrains_the_engine(sdk: openai.OpenAI, double: OllamaDouble) -> None:
    schema = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}
    sdk.chat.completions.create(
        model=LLAMA, messages=HELLO,  # type: ignore[arg-type]
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}},
    )
    assert double.bodies("/api/chat")[-1]["format"] == schema
    sdk.chat.completions.create(model=LLAMA, messages=HELLO, response_format={"type": "json_object"})  # type: ignore[arg-type]
    assert double.bodies("/api/chat")[-1]["format"] == {"type": "object"}
    sdk.chat.completions.create(model=LLAMA, messages=HELLO, response_format={"type": "text"})  # type: ignore[arg-type]
    assert "format" not in double.bodies("/api/chat")[-1]


def test_a_client_that_leaves_mid_stream_stops_the_engine(arena: RunningArena, double: OllamaDouble) -> None:
    double.token_delay = 0.3
    left = double.disconnects
    with httpx.Client(base_url=arena.url, timeout=30) as client:
        body = {"model": LLAMA, "messages": HELLO, "stream": True}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")  # generating: then the client hangs up
    deadline = time.monotonic() + 10
    while double.disconnects == left and time.monotonic() < deadline:
        time.sleep(0.05)
    assert double.disconnects == left + 1  # the arena closed its own request to the engine
