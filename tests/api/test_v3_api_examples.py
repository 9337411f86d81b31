"""Every example of the original v3 API.md, run against a real arena (Ollama double engine).

API.md is read from `../shared/v3-client` (beside the repository), not copied: each code block
is found there and given its expected outcome here. Where v3's documents disagree with its own
server, the server is the contract: API.md's stream lines have no `type`, but v3's server and
page use it; its one-message examples (`history: [user]` without `message`) got 400 from v3's
server (it wanted at least two messages), while the arena answers them. Those are stated below.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from arena.web.schemas.stream import ArenaStreamLine, V3StreamLine
from tests.support.doubles.ollama import DoubleModel, OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.server import RunningArena

V3_CLIENT = Path(__file__).resolve().parents[3] / "shared" / "v3-client"
API_MD = V3_CLIENT / "API.md"
DOC_URL = "http://localhost:7860"
# The models API.md names: installed, or pullable (deepseek-r1:8b).
INSTALLED = ("llama3.2:3b", "qwen2.5:3b", "qwen2.5:7b", "mistral:7b", "llama2:7b")
REPLY = ["2", " +", " 2", " =", " 4"]


@dataclass(frozen=True)
class Block:
    section: str  # the `###` heading it sits under
    label: str  # the nearest `####` heading or bold line above it
    lang: str
    text: str


def api_md_blocks() -> list[Block]:
    if not API_MD.is_file():
        pytest.fail(f"{API_MD} is missing: the v3 client's files must sit in ../shared/v3-client beside the repository")
    blocks: list[Block] = []
    section = label = ""
    lines = API_MD.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("### ") or line.startswith("## "):
            section, label = line.lstrip("#").strip(), ""
        elif line.startswith("#### ") or line.startswith("**"):
            label = line.strip("#* ").split("**")[0].strip()
        elif line.startswith("```"):
            end = lines.index("```", index + 1)
            blocks.append(Block(section, label, line[3:].strip(), "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    return blocks


def block(section: str, label: str) -> Block:
    [found] = [b for b in api_md_blocks() if b.section == section and b.label == label]
    return found


def request_body(section: str, label: str) -> dict[str, Any]:
    return json.loads(block(section, label).text)


# Every block of API.md, with what the arena does with it (checked by the tests named).
OUTCOMES = {
    ("Base URL", ""): "the base URL: every request below goes to the arena's /api",
    ("Authentication", ""): "token mode: this header is what the arena asks for (test_chat_with_authentication)",
    ("Health Check", "Response 200:"): "same keys; `service` is local-llm-arena, not ollama-arena",
    ("List Models", "Response 200:"): "bare names, as v3's page compares them",
    ("List Models", "Response 401:"): "the same body, word for word, in token mode without the header",
    ("Chat (Non-Streaming)", "Legacy Format (Deprecated)"): "200: results keyed by model name, as v3's server did",
    ("Chat (Non-Streaming)", "Recommended Format (v3.0.0+)"): "200: results keyed by the client's own ids",
    ("Chat (Non-Streaming)", "Response 200 (Single Model):"): "one instance: these keys plus `assistant`",
    ("Chat (Non-Streaming)", "Response 200 (Multiple Models with Hyperparameters):"): "these keys per result",
    ("Chat (Non-Streaming)", "Response 400:"): "400 with an `error` when there is no message (other words)",
    ("Chat (Non-Streaming)", "Response 400 (Duplicate Instance):"): "400 `Duplicate model instance detected: …`",
    ("Stream Chat", "Legacy Format (Deprecated)"): "v3's server: 400 (one message); the arena streams it",
    ("Stream Chat", "Recommended Format (v3.0.0+)"): "v3's server: 400 (one message); the arena streams it",
    ("Stream Chat", "Response 200 (NDJSON Stream):"): "these keys, plus the `type` v3's server and page use",
    ("Pull Model", "Request Body:"): "200 at once, the pull goes on in the background",
    ("Pull Model", "Response 200:"): "this body, word for word",
    ("Pull Model", "Response 400:"): "400 with an `error` when `model` is missing (other words)",
    ("Delete Model", "Request Body:"): "200",
    ("Delete Model", "Response 200:"): "this body, word for word",
    ("Delete Model", "Response 500:"): "a model that is not there: 404 with an `error`, not 500",
    ("Error Responses", "401 Unauthorized:"): "401 with an `error`",
    ("Error Responses", "404 Not Found:"): "404 with an `error`",
    ("Error Responses", "500 Internal Server Error:"): "never on bad input: 4xx with an `error` instead",
    ("cURL Examples", "List models:"): "200",
    ("cURL Examples", "Chat with authentication:"): "v3's server: 400 (one message); the arena: 200 with the token",
    ("cURL Examples", "Stream chat:"): "v3's server: 400 (one message); the arena streams it",
    ("Python Examples", ""): "runs as written (it forgets `import json`); the extra first line breaks nothing",
    ("JavaScript Examples", ""): "the same requests; run in Chromium by tests/browser/test_v3_client.py",
}


@pytest.fixture(scope="module")
def double(module_double_factory: DoubleFactory) -> OllamaDouble:
    running = module_double_factory(
        models=[DoubleModel(name=name) for name in INSTALLED], library=[DoubleModel(name="deepseek-r1:8b")]
    )
    running.reply = list(REPLY)
    return running


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


@pytest.fixture
def client(arena: RunningArena) -> Any:
    with arena.client() as http:
        yield http


def stream_lines(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
        return [json.loads(raw) for raw in response.iter_lines() if raw.strip()]


def test_every_example_has_a_stated_outcome() -> None:
    found = {(b.section, b.label) for b in api_md_blocks()}
    assert found == set(OUTCOMES), f"API.md and this test differ: {found ^ set(OUTCOMES)}"


def test_health_and_models(client: httpx.Client) -> None:
    health = client.get("/api/health").json()
    assert set(json.loads(block("Health Check", "Response 200:").text)) <= set(health)
    models = client.get("/api/models").json()["models"]
    assert set(json.loads(block("List Models", "Response 200:").text)) <= {"models"}
    assert set(INSTALLED) <= set(models)


def test_chat_legacy_format(client: httpx.Client) -> None:
    body = request_body("Chat (Non-Streaming)", "Legacy Format (Deprecated)")
    data = client.post("/api/chat", json=body).json()
    example = json.loads(block("Chat (Non-Streaming)", "Response 200 (Multiple Models with Hyperparameters):").text)
    assert set(data["results"]) == set(body["models"]) and data["errors"] == {}
    for result in data["results"].values():
        assert set(next(iter(example["results"].values()))) <= set(result)
        assert result["assistant"] == result["response"] == "2 + 2 = 4"
        assert {"tokens", "duration_s", "tokens_per_sec"} <= set(result["metrics"])


def test_chat_recommended_format_echoes_the_clients_ids(client: httpx.Client, double: OllamaDouble) -> None:
    body = request_body("Chat (Non-Streaming)", "Recommended Format (v3.0.0+)")
    data = client.post("/api/chat", json=body).json()
    assert set(data["results"]) == {i["id"] for i in body["model_instances"]}
    sent = double.bodies("/api/chat")[-1]
    # The system prompt and the question, once each.
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    stored = client.get(f"/api/conversations/{data['conversation_id']}").json()
    # Stored by model and settings, whatever the client called them.
    assert {r["instance_id"] for r in stored["turns"][0]["responses"]} == {
        "llama3.2_3b__0.7_0.9_40_1.1_-1_0",
        "qwen2.5_3b__0.5_0.8_30_1.2_500_42",
    }

def test_chat_single_model(client: httpx.Client) -> None:
    body = request_body("Chat (Non-Streaming)", "Recommended Format (v3.0.0+)")
    body["model_instances"] = body["model_instances"][:1]
    data = client.post("/api/chat", json=body).json()
    example = json.loads(block("Chat (Non-Streaming)", "Response 200 (Single Model):").text)
    assert set(example) | {"assistant"} <= set(data)
    assert data["instance_id"] == "llama3_2_3b__0.7_0.9_40_1.1_-1_0"
    assert data["assistant"] == "2 + 2 = 4"


def test_chat_errors(client: httpx.Client) -> None:
    empty = client.post("/api/chat", json={"history": [], "models": ["llama3.2:3b"]})
    assert empty.status_code == 400 and empty.json()["error"]
    body = request_body("Chat (Non-Streaming)", "Recommended Format (v3.0.0+)")
    body["model_instances"] = [body["model_instances"][0]] * 2
    duplicate = client.post("/api/chat", json=body)
    assert duplicate.status_code == 400
    assert duplicate.json()["error"].startswith("Duplicate model instance detected: ")


@pytest.mark.parametrize("label", ["Legacy Format (Deprecated)", "Recommended Format (v3.0.0+)"])
def test_stream_chat_examples(client: httpx.Client, label: str) -> None:
    body = request_body("Stream Chat", label)
    lines = stream_lines(client, body)
    example = [json.loads(row) for row in block("Stream Chat", "Response 200 (NDJSON Stream):").text.splitlines()]
    keys = [i.get("id") or i["model"] for i in body.get("model_instances") or []] or body["models"]
    assert lines[0]["type"] == "start"
    tokens = [line for line in lines if line["type"] == "token"]
    finals = [line for line in lines if line["done"]]
    assert {line["instance_id"] for line in tokens} == set(keys)
    assert [line["type"] for line in finals] == ["metrics"] * len(keys)
    assert set(example[0]) <= set(tokens[0]) and set(example[-1]) <= set(finals[0])
    assert set(example[-1]["metrics"]) <= set(finals[0]["metrics"])
    assert finals[0]["token"] == "" and finals[0]["metrics"]["first_token_time"] is not None
    for key in keys:
        assert "".join(line["token"] for line in tokens if line["instance_id"] == key) == "2 + 2 = 4"


def test_pull_and_delete(client: httpx.Client, double: OllamaDouble) -> None:
    pulled = client.post("/api/pull_model", json=request_body("Pull Model", "Request Body:"))
    assert pulled.json() == json.loads(block("Pull Model", "Response 200:").text)
    missing = client.post("/api/pull_model", json={})
    assert missing.status_code == 400 and missing.json()["error"]
    deleted = client.post("/api/delete_model", json=request_body("Delete Model", "Request Body:"))
    assert deleted.json() == json.loads(block("Delete Model", "Response 200:").text)
    gone = client.post("/api/delete_model", json=request_body("Delete Model", "Request Body:"))
    assert gone.status_code == 404 and gone.json()["error"]
    assert client.get("/api/no-such-thing").status_code == 404
    assert client.get("/api/no-such-thing").json()["error"]


def curl(command: str) -> tuple[str, str, dict[str, str], dict[str, Any] | None]:
    """Method, path, headers and JSON body of one of API.md's curl commands."""
    words = shlex.split(command.replace("\\\n", " "))
    method, headers, body, url = "GET", {}, None, ""
    for index, word in enumerate(words):
        if word == "-X":
            method = words[index + 1]
        elif word == "-H":
            name, _, value = words[index + 1].partition(": ")
            headers[name] = value
        elif word == "-d":
            body = json.loads(words[index + 1])
        elif word.startswith("http"):
            url = word
    return method, url.removeprefix(DOC_URL), headers, body


def test_curl_examples(client: httpx.Client) -> None:
    method, path, headers, body = curl(block("cURL Examples", "List models:").text)
    assert client.request(method, path, headers=headers, json=body).status_code == 200
    method, path, headers, body = curl(block("cURL Examples", "Stream chat:").text)
    with client.stream(method, path, headers=headers, json=body) as response:
        assert response.status_code == 200
        assert "2 + 2 = 4" == "".join(json.loads(r).get("token", "") for r in response.iter_lines() if r.strip())


def test_chat_with_authentication(double: OllamaDouble, arena_factory: ArenaFactory) -> None:
    method, path, headers, body = curl(block("cURL Examples", "Chat with authentication:").text)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert block("Authentication", "").text == f"Authorization: Bearer {token}-here"
    locked = arena_factory(ollama_hosts=[double.url], embedded_enabled=False, web_chat_token=token)
    with locked.client() as client:
        refused = client.request(method, path, json=body)
        assert refused.status_code == 401
        assert refused.json() == json.loads(block("List Models", "Response 401:").text)
        answered = client.request(method, path, headers=headers, json=body)
    assert answered.status_code == 200 and answered.json()["assistant"] == "2 + 2 = 4"


def test_python_example_runs_as_written(arena: RunningArena, monkeypatch: pytest.MonkeyPatch) -> None:
    """API.md's Python example, with `requests` served by httpx: it reads `model` and `token`
    from every stream line, so the arena's first line must carry both."""
    printed: list[str] = []
    with httpx.Client(base_url=arena.url, timeout=60) as http:

        def post(url: str, *, json: Any = None, stream: bool = False) -> httpx.Response:
            request = http.build_request("POST", url.removeprefix(DOC_URL), json=json)
            return http.send(request, stream=stream)

        shim = types.ModuleType("requests")
        shim.get = lambda url: http.get(url.removeprefix(DOC_URL))  # type: ignore[attr-defined]
        shim.post = post  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "requests", shim)  # the example's `import requests` finds this
        code = block("Python Examples", "").text
        scope = {"json": json, "print": lambda *a, **_: printed.append(" ".join(map(str, a)))}
        exec(compile(code, "API.md", "exec"), scope)
    assert "llama3.2:3b" in scope["models"]
    assert scope["result"]["assistant"] == "2 + 2 = 4"
    assert re.sub(r"llama3\.2:3b ?", "", "".join(printed)).strip() == "2 + 2 = 4"


@pytest.mark.parametrize("line_format", ["v3", "arena"])
def test_every_stream_line_is_a_documented_line(client: httpx.Client, line_format: str) -> None:
    adapter = TypeAdapter(V3StreamLine if line_format == "v3" else ArenaStreamLine)
    body = {"message": "Hi", "model_instances": [{"model": "llama3.2:3b"}, {"model": "no-such:model"}]}
    with client.stream("POST", f"/api/stream_chat?format={line_format}", json=body) as response:
        lines = [json.loads(raw) for raw in response.iter_lines() if raw.strip()]
    assert any(line.get("error") for line in lines) and any(line.get("token") for line in lines)
    for line in lines:
        parsed = adapter.validate_python(line)
        assert set(line) <= set(type(parsed).model_fields), f"undocumented keys in {line}"
    spec = client.get("/openapi.json").json()
    assert {"V3StartLine", "V3TokenLine", "V3MetricsLine", "V3ErrorLine", "ArenaDoneLine"} <= set(spec["components"]["schemas"])


def test_eight_instances_as_v3_allowed(client: httpx.Client) -> None:
    instances = [{"model": "llama3.2:3b", "seed": seed} for seed in range(1, 10)]
    assert client.post("/api/chat", json={"message": "Hi", "model_instances": instances[:8]}).status_code == 200
    refused = client.post("/api/chat", json={"message": "Hi", "model_instances": instances})
    assert refused.status_code == 400 and "at most 8" in refused.json()["error"]
