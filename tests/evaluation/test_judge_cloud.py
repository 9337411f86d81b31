"""Cloud judges, on opt-in only: Anthropic through the official SDK and any OpenAI-compatible API,
against a small local double of both (tests/support/doubles/cloud.py). The API key is never logged, stored or echoed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from arena.engines.anthropic import AnthropicEngine
from arena.engines.base import GenerationRequest, Message, SamplingOptions
from arena.errors import EngineRejected
from arena.storage import audit
from arena.storage.models import Judgment
from tests.support.doubles.cloud import CloudDouble, anthropic_key
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

KEY = "sk-ant-test-9f8e7d6c5b4a-do-not-log"
OTHER_KEY = "sk-openai-test-1a2b3c4d-do-not-store"
ANSWERS = [{"key": "paris", "text": "The capital of France is Paris."}, {"key": "berlin", "text": "It is Berlin."}]


def prefers_paris(prompt: str) -> str:
    first = prompt.split("[The Start of Assistant [A]'s Answer]")[1].split("[The End")[0]
    return json.dumps({"verdict": "A" if "Paris" in first else "B", "explanation": "Paris is right."})


@pytest.fixture
def cloud() -> Iterator[CloudDouble]:
    double = CloudDouble(keys={"v1": KEY, "openai": OTHER_KEY})
    double.start()
    try:
        yield double
    finally:
        double.stop()


def cloud_judges(cloud: CloudDouble) -> list[dict[str, str]]:
    """The double stands where an admin's configuration points the two providers."""
    return [
        {"name": "anthropic", "provider": "anthropic", "base_url": cloud.url, "api_key_env": "ANTHROPIC_API_KEY"},
        {
            "name": "openai",
            "provider": "openai_compatible",
            "base_url": f"{cloud.url}/openai/v1",
            "api_key_env": "OPENAI_API_KEY",
        },
    ]


@pytest.fixture
def arena(monkeypatch: pytest.MonkeyPatch, cloud: CloudDouble, arena_factory: ArenaFactory) -> RunningArena:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return arena_factory(embedded_enabled=False, cloud_judges=cloud_judges(cloud))


def anthropic_judge(cloud: CloudDouble, **extra: Any) -> dict[str, Any]:
    spec = {"provider": "anthropic", "model": "claude-judge-1"} | extra
    return {"prompt": "What is the capital of France?", "answers": ANSWERS, "cloud": spec, "allow_cloud": True}


def everything_stored(arena: RunningArena) -> str:
    with arena.database() as database, database.session() as session:
        rows = session.query(Judgment).all()
        return json.dumps([{c.name: getattr(r, c.name) for c in Judgment.__table__.columns} for r in rows], default=str)


@pytest.mark.anyio
async def test_the_anthropic_engine_streams_through_the_sdk_with_the_schema_as_output_config(
    cloud: CloudDouble,
) -> None:
    engine = AnthropicEngine(api_key=KEY, base_url=cloud.url)
    request = GenerationRequest(
        model="claude-judge-1",
        messages=[Message(role="system", content="Be a judge."), Message(role="user", content="Judge this.")],
        options=SamplingOptions(temperature=0.3, top_k=1, num_predict=64),
        json_schema={"type": "object", "properties": {"verdict": {"type": "string"}}},
    )
    try:
        chunks = [chunk async for chunk in engine.stream(request)]
        models = await engine.list_models()
    finally:
        await engine.aclose()

    assert "".join(c.text for c in chunks) == '{"verdict": "A", "explanation": "first"}'
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (321, 17)
    assert chunks[-1].finish_reason == "stop"
    [sent] = cloud.bodies
    assert sent["system"] == "Be a judge."
    assert sent["messages"] == [{"role": "user", "content": "Judge this."}]
    assert sent["max_tokens"] == 64
    assert not {"temperature", "top_p", "top_k"} & set(sent)  # API 2026-10-21 refuses sampling settings
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": request.json_schema}}
    assert [m.id for m in models] == ["anthropic:claude-judge-1"]
    assert KEY not in repr(engine)


@pytest.mark.anyio
async def test_a_refused_key_is_an_engine_rejection_that_never_repeats_the_key(cloud: CloudDouble) -> None:
    wrong = "sk-ant-wrong-key-0000"
    engine = AnthropicEngine(api_key=wrong, base_url=cloud.url, max_retries=0)
    request = GenerationRequest(model="claude-judge-1", messages=[Message(role="user", content="hi")])
    try:
        with pytest.raises(EngineRejected, match="refused the API key") as caught:
            async for _ in engine.stream(request):
                pass
    finally:
        await engine.aclose()
    assert wrong not in str(caught.value)


def test_an_anthropic_judge_needs_explicit_consent(arena: RunningArena, cloud: CloudDouble) -> None:
    body = anthropic_judge(cloud) | {"allow_cloud": False}
    with arena.client() as client:
        response = client.post("/api/judge", json=body)

    assert response.status_code == 400
    assert "set allow_cloud to true" in response.json()["error"] and "127.0.0.1" in response.json()["error"]
    assert cloud.bodies == [] and cloud.headers == []


def test_an_anthropic_judge_judges_both_orders_and_its_key_is_never_logged_stored_or_echoed(
    arena: RunningArena, cloud: CloudDouble, caplog: pytest.LogCaptureFixture
) -> None:
    cloud.decide = prefers_paris
    caplog.set_level(logging.DEBUG)  # the SDK and httpx log requests at DEBUG

    with arena.client() as client:
        response = client.post("/api/judge", json=anthropic_judge(cloud, api_key=KEY))
        listed = client.get("/api/judge")

    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["judge_model"], data["cloud"], data["sent_to"]) == ("anthropic:claude-judge-1", True, cloud.url[7:])
    [verdict] = data["judgments"]
    assert (verdict["winner"], verdict["winner_key"], verdict["consistent"]) == ("a", "paris", True)
    assert [anthropic_key(h) for h in cloud.headers] == [KEY, KEY]  # it reached the API, in a header
    assert "output_config" in cloud.bodies[0]
    assert any("/v1/messages" in r.getMessage() for r in caplog.records)  # the requests were logged…
    assert KEY not in caplog.text  # …without the key
    assert KEY not in response.text and KEY not in listed.text
    assert KEY not in everything_stored(arena)


def test_the_key_can_come_from_the_environment_and_a_wrong_one_is_refused_without_echo(
    arena: RunningArena, cloud: CloudDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with arena.client() as client:
        missing = client.post("/api/judge", json=anthropic_judge(cloud))
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        from_environment = client.post("/api/judge", json=anthropic_judge(cloud))
        wrong = client.post("/api/judge", json=anthropic_judge(cloud, api_key="sk-ant-wrong-1234"))
        providers = client.get("/api/judge/cloud").json()["providers"]

    assert missing.status_code == 400 and "ANTHROPIC_API_KEY" in missing.json()["error"]
    assert from_environment.status_code == 200, from_environment.text
    assert wrong.status_code == 400 and "refused the API key" in wrong.json()["error"]
    assert "sk-ant-wrong-1234" not in wrong.text and "sk-ant-wrong-1234" not in caplog.text
    assert KEY not in caplog.text
    anthropic = next(p for p in providers if p["provider"] == "anthropic")
    assert anthropic["key_in_environment"] is True and cloud.url.removeprefix("http://") in anthropic["notice"]
    assert KEY not in json.dumps(providers)


def test_an_openai_compatible_cloud_judge_sends_only_standard_fields_and_keeps_its_key_to_itself(
    arena: RunningArena, cloud: CloudDouble, caplog: pytest.LogCaptureFixture
) -> None:
    cloud.decide = prefers_paris
    caplog.set_level(logging.DEBUG)
    body = {
        "prompt": "What is the capital of France?",
        "answers": ANSWERS,
        "mode": "pairwise",
        "cloud": {
            "provider": "openai_compatible",
            "model": "gpt-judge",
            "api_key": OTHER_KEY,
        },
        "allow_cloud": True,
    }
    wrong = body | {"cloud": body["cloud"] | {"api_key": "sk-openai-wrong-5678"}}
    with arena.client() as client:
        response = client.post("/api/judge", json=body)
        refused = client.post("/api/judge", json=wrong)

    assert response.status_code == 200, response.text
    [verdict] = response.json()["judgments"]
    assert (verdict["winner_key"], response.json()["judge_model"]) == ("paris", "openai_compatible:gpt-judge")
    assert refused.status_code == 400 and "OPENAI_API_KEY" in refused.json()["error"]
    assert "sk-openai-wrong-5678" not in refused.text and "sk-openai-wrong-5678" not in caplog.text
    sent = cloud.bodies[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert not {"top_k", "repeat_penalty", "repetition_penalty"} & set(sent)
    assert [h["authorization"] for h in cloud.headers[:2]] == [f"Bearer {OTHER_KEY}"] * 2
    assert OTHER_KEY not in caplog.text and OTHER_KEY not in response.text and OTHER_KEY not in everything_stored(arena)


def test_a_cloud_judge_run_that_fails_after_sending_is_audited_by_its_error_kind_never_the_key(
    arena: RunningArena, cloud: CloudDouble
) -> None:
    wrong = "sk-ant-wrong-audit-4321"
    with arena.client() as client:
        refused = client.post("/api/judge", json=anthropic_judge(cloud, api_key=wrong))
        cloud.decide = lambda prompt: "no verdict here, sorry"
        garbled = client.post("/api/judge", json=anthropic_judge(cloud, api_key=KEY))

    assert (refused.status_code, garbled.status_code) == (400, 502)
    assert cloud.bodies, "the question and answers reached the provider"
    with arena.database() as database, database.session() as session:
        entries = audit.list_entries(session, limit=50).entries
    failures = [(e.action, e.detail) for e in entries if e.action == audit.JUDGE_FAILURE]
    where = {"judge_model": "anthropic:claude-judge-1", "cloud": True, "endpoint": "anthropic", "sent_to": cloud.url[7:]}
    # Before: nothing was recorded; only runs that gave a verdict were.
    assert [detail for _, detail in failures] == [where | {"error": "EngineProtocolError"}, where | {"error": "EngineRejected"}]
    logged = json.dumps([(e.actor, e.target, e.detail) for e in entries])
    assert wrong not in logged and KEY not in logged and "Paris" not in logged
