"""Who may use the OpenAI-compatible gateway: the arena's API tokens (users mode) and its shared
token (token mode), through the `openai` SDK as an application would; and one real SmolLM2
answer through the embedded engine, whole and streamed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from arena.storage import audit
from tests.support.accounts import api_token
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.models import SMOL
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

LLAMA = "ollama:llama3.2:1b"
HELLO = [{"role": "user", "content": "Why is the sky blue?"}]
SHARED_TOKEN = "a-long-shared-token-for-the-gateway-tests"

double = module_double  # one double for the whole module


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    """Users mode, the embedded engine (SmolLM2) and the double's Ollama models."""
    return module_arena_factory(accounts=True, ollama_hosts=[double.url])


@pytest.fixture(scope="module")
def tokens(arena: RunningArena) -> dict[str, str]:
    return {name: api_token(arena, name) for name in ("eve", "rival", "vic")}


@pytest.fixture
def as_user(arena: RunningArena, tokens: dict[str, str]) -> Iterator[dict[str, openai.OpenAI]]:
    clients = {name: openai.OpenAI(base_url=f"{arena.url}/v1", api_key=token, max_retries=0) for name, token in tokens.items()}
    yield clients
    for client in clients.values():
        client.close()


def test_without_a_token_or_with_a_wrong_one_nothing_is_answered(arena: RunningArena) -> None:
    with arena.client() as client:
        bare = client.post("/v1/chat/completions", json={"model": LLAMA, "messages": HELLO})
    assert bare.status_code == 401 and bare.headers["WWW-Authenticate"] == "Bearer"
    assert bare.json()["error"]["code"] == "invalid_api_key"
    with openai.OpenAI(base_url=f"{arena.url}/v1", api_key="arena_not-a-real-token", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as refused:
            wrong.chat.completions.create(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
        assert "Unknown or revoked API token" in refused.value.body["message"]  # type: ignore[index]
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    # A wrong token is audited like any other (never the token itself).
    with arena.database() as database, database.session() as session:
        failures = audit.list_entries(session, action=audit.TOKEN_FAILURE).entries
    assert any(entry.detail == {"reason": "unknown API token"} for entry in failures)


def test_a_viewer_may_list_the_models_but_not_generate(as_user: dict[str, openai.OpenAI], double: OllamaDouble) -> None:
    viewer = as_user["vic"]
    assert LLAMA in {model.id for model in viewer.models.list()}
    sent = len(double.bodies("/api/chat"))
    with pytest.raises(openai.PermissionDeniedError) as refused:
        viewer.chat.completions.create(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
    assert "evaluator" in refused.value.body["message"]  # type: ignore[index]
    assert len(double.bodies("/api/chat")) == sent  # nothing reached the engine


def test_a_stored_conversation_belongs_to_the_tokens_user(
    arena: RunningArena, tokens: dict[str, str], as_user: dict[str, openai.OpenAI]
) -> None:
    raw = as_user["eve"].chat.completions.with_raw_response.create(
        model=LLAMA, messages=HELLO, extra_headers={"X-Arena-Store": "true"}  # type: ignore[arg-type]
    )
    conversation = f"/api/conversations/{raw.headers['X-Arena-Conversation-Id']}"
    with arena.client() as client:
        mine = client.get(conversation, headers={"Authorization": f"Bearer {tokens['eve']}"})
        theirs = client.get(conversation, headers={"Authorization": f"Bearer {tokens['rival']}"})
    assert mine.status_code == 200 and mine.json()["turns"][0]["user_text"] == "Why is the sky blue?"
    assert theirs.status_code == 404


@pytest.mark.slow
def test_smollm2_answers_through_the_gateway(as_user: dict[str, openai.OpenAI]) -> None:
    """A real model through the embedded engine: greedy decoding gives one answer, whole or streamed."""
    ask = {"model": SMOL, "messages": [{"role": "user", "content": "Name a colour."}], "temperature": 0, "seed": 1}
    whole = as_user["eve"].chat.completions.create(**ask, max_tokens=6)  # type: ignore[call-overload]
    text = whole.choices[0].message.content
    assert text and text.strip()
    assert whole.usage is not None and whole.usage.prompt_tokens > 5  # the chat template's tokens, counted
    assert 0 < whole.usage.completion_tokens <= 6
    chunks = list(as_user["eve"].chat.completions.create(**ask, max_tokens=6, stream=True, stream_options={"include_usage": True}))  # type: ignore[call-overload]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_the_shared_token_of_token_mode_opens_the_gateway(double: OllamaDouble, arena_factory: ArenaFactory) -> None:
    running = arena_factory(web_chat_token=SHARED_TOKEN, ollama_hosts=[double.url], embedded_enabled=False)
    with openai.OpenAI(base_url=f"{running.url}/v1", api_key=SHARED_TOKEN, max_retries=0) as client:
        assert client.chat.completions.create(model=LLAMA, messages=HELLO).choices[0].message.content  # type: ignore[arg-type]
    with openai.OpenAI(base_url=f"{running.url}/v1", api_key="not-the-token", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    with httpx.Client(base_url=running.url) as client:
        assert client.get("/v1/models").status_code == 401
