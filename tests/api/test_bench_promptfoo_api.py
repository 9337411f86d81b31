"""A promptfoo config uploaded on the /bench page's API: it runs with the page's models and its
report has pass rates; a config that would run code, read server files or expand without bound
is a 400 naming the place, and creates no run."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)
LLAMA = "ollama:llama3.2:1b"
CONFIG = b"""\
prompts: ["Why is the sky {{colour}}?"]
tests:
  - vars: {colour: [blue, green]}
    assert:
      - type: contains
        value: "{{colour}}"
"""
LAUGHS = (
    b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + b"".join(f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n".encode() for n in range(8))
    + b"prompts: [hi]\ntests:\n  - vars: {v: *i}\n"
)


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def start(client: httpx.Client, data: bytes, *, models: list[str] | None = None) -> httpx.Response:
    spec = json.dumps(
        {
            "instances": [{"model": m} for m in [LLAMA] if models is None] + [{"model": m} for m in models or []],
            "seed": 5,
        }
    )
    return client.post(
        "/api/bench/runs",
        files={"prompts": ("promptfooconfig.yaml", data, "application/x-yaml")},
        data={"config": spec},
    )


def test_an_uploaded_config_runs_with_the_page_s_models_and_reports_pass_rates(arena: RunningArena) -> None:
    with arena.client() as client:
        created = start(client, CONFIG)
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/bench/runs/{run_id}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        report = client.get(f"/api/bench/runs/{run_id}/report").json()
        listed = client.get("/api/bench/runs").json()["runs"]
    # The runs table's count, as the report's.
    assert [run["tests"] for run in listed] == [{"passed": 1, "total": 2}]
    # The double answers "The sky is blue — Rayleigh scattering." to both.
    assert report["pass_rates"]["overall"] == {"passed": 1, "total": 2, "rate": 0.5}
    assert sorted((i["turns"][0], i["grade"]["pass"]) for i in report["items"]) == [
        ("Why is the sky blue?", True), ("Why is the sky green?", False),
    ]  # fmt: skip


def test_an_uploaded_config_without_page_models_runs_its_providers(arena: RunningArena) -> None:
    with arena.client() as client:
        created = start(
            client, b"providers:\n  - id: openai:chat:ollama:qwen2.5:0.5b\n    label: qwen\n" + CONFIG, models=[]
        )
        assert created.status_code == 201, created.text
        # promptfoo's OpenAI defaults for settings its config leaves out: greedy, 1024 tokens.
        (instance,) = created.json()["instances"]
        assert (instance["model"], instance["top_k"], instance["num_predict"], instance["label"]) == (
            "ollama:qwen2.5:0.5b",
            1,
            1024,
            "qwen",
        )
        # Neither models nor providers: what to do, not pydantic's "List should have at least 1 item".
        refused = start(client, CONFIG, models=[])
        assert refused.status_code == 400 and "add a model on the page or providers in the config" in refused.text


def test_configs_that_run_code_read_files_or_explode_are_refused_and_create_no_run(arena: RunningArena) -> None:
    with arena.client() as client:
        code = start(client, CONFIG.replace(b"type: contains", b"type: javascript"))
        files = start(client, b"prompts: [file://../../etc/passwd.txt]\n")
        started = time.monotonic()
        laughs = start(client, LAUGHS)
        took = time.monotonic() - started
        runs = client.get("/api/bench/runs").json()["runs"]
    assert code.status_code == 400
    assert "line 5: tests[0].assert[0]: assertion type 'javascript' runs code" in code.json()["error"]
    assert files.status_code == 400 and "file:// prompts are read next to a config file" in files.json()["error"]
    assert laughs.status_code == 400 and "YAML values once anchors are expanded" in laughs.json()["error"]
    assert took < 10
    assert runs == []


def test_a_rubric_with_no_judge_and_no_embedded_grader_is_a_400_and_creates_no_run(arena: RunningArena) -> None:
    rubric = CONFIG.replace(b"type: contains", b"type: llm-rubric").replace(b'"{{colour}}"', b"Names the colour")
    with arena.client() as client:
        refused = start(client, rubric)
        runs = client.get("/api/bench/runs").json()["runs"]
    assert refused.status_code == 400
    assert "graded by the run's judge, else the embedded local:smollm2-135m-instruct" in refused.json()["error"]
    assert runs == []
