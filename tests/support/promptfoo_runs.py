"""A promptfoo config run through POST /api/bench/runs against a judging Ollama double that
always says tie, for the leaderboard's pass rates (the API and the page test them alike)."""

from __future__ import annotations

import json
import time

import httpx

from tests.support.doubles.judging import JudgingOllama
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.server import RunningArena

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
# The double answers every prompt with "The sky is blue — Rayleigh scattering.": 1 test of 3 passes.
CONFIG = b"""\
prompts: ["Why is the sky {{colour}}?"]
tests:
  - vars: {colour: [blue, green, red]}
    assert:
      - type: contains
        value: "{{colour}}"
"""


def tying_arena(double_factory: DoubleFactory, arena_factory: ArenaFactory) -> RunningArena:
    judging = JudgingOllama()
    # Always a tie; the double goes on answering with its last reply, so it says "blue" too.
    judging.decide = lambda prompt: '{"explanation": "The sky is blue, both say.", "verdict": "tie"}'
    double_factory(judging)
    return arena_factory(ollama_hosts=[judging.url], embedded_enabled=False)


def run_config(client: httpx.Client, *, models: list[str], judge: str | None = None) -> str:
    """Start the config's run on `models` (judged by `judge`) and wait for it to finish; its id."""
    spec: dict = {"instances": [{"model": model} for model in models], "seed": 5}
    if judge is not None:
        spec["judge"] = {"instance": {"model": judge}}
    created = client.post(
        "/api/bench/runs",
        files={"prompts": ("promptfooconfig.yaml", CONFIG, "application/x-yaml")},
        data={"config": json.dumps(spec)},
    )
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/bench/runs/{run_id}").json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return run_id
