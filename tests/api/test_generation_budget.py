"""One budget of generations (issue 10, finding 5): one unit is one instance generating, and every
generation (chat, stream, regenerate, judge, a benchmark item) draws on the caller's cap
(ARENA_MAX_STREAMS_PER_USER) and the server's (ARENA_MAX_GENERATIONS). Callers are told apart by
address (auth mode "none"): a second client connects from 127.0.0.2, which is loopback too."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.spec import BenchSpec
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import module_double
from tests.support.server import RunningArena, make_settings, ndjson_lines, running_arena

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
ASK = {"message": "hi", "models": [LLAMA]}
OTHER_ADDRESS = "127.0.0.2"
SLOW = [f" w{i}" for i in range(30)]


def instances(count: int) -> list[dict[str, Any]]:
    """`count` instances of one model, told apart by temperature."""
    return [{"model": LLAMA, "temperature": round(0.1 * (n + 1), 1)} for n in range(count)]


def comparison(count: int) -> dict[str, Any]:
    return {"message": "hi", "model_instances": instances(count)}


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(autouse=True)
def quick_replies(double: OllamaDouble) -> None:
    double.reply, double.token_delay, double.first_token_delay = ["Hi", " there"], 0.0, 0.0


def arena_with(tmp_path: Path, double: OllamaDouble, **overrides: object) -> AbstractContextManager[RunningArena]:
    return running_arena(make_settings(tmp_path, ollama_hosts=[double.url], embedded_enabled=False, **overrides))


def client_from(arena: RunningArena, address: str) -> httpx.Client:
    return arena.client(transport=httpx.HTTPTransport(local_address=address))


def generating(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The stream's lines, once its engines have sent their first tokens."""
    lines = ndjson_lines(response)
    next(lines)  # the turn's first line
    next(lines)  # a token: generating now
    return lines


def assert_over_cap(response: httpx.Response, cap: int) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error.startswith(f"Too many generations at once: the limit is {cap} per user"), error
    assert "ARENA_MAX_STREAMS_PER_USER" in error


def eventually(check: Callable[[], bool], *, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_comparison_takes_one_unit_per_instance(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = SLOW, 0.05
    with arena_with(tmp_path, double, max_streams_per_user=4) as arena:
        with arena.client() as client, client_from(arena, OTHER_ADDRESS) as other:
            with client.stream("POST", "/api/stream_chat", json=comparison(3)) as first:
                lines = generating(first)
                # 3 of 4 units are taken: two more instances are past the cap, at once, on every route.
                assert_over_cap(client.post("/api/stream_chat", json=comparison(2)), 4)
                assert_over_cap(client.post("/api/chat", json=comparison(2)), 4)
                # Another caller has a budget of their own.
                double.token_delay = 0.0
                assert other.post("/api/chat", json=comparison(2)).status_code == 200
                assert list(lines)[-1]["done"] is True
            # A refused request wrote nothing: one conversation from each caller.
            assert len(client.get("/api/conversations").json()["conversations"]) == 2
            assert client.post("/api/chat", json=comparison(4)).status_code == 200


def test_a_comparison_larger_than_the_cap_is_a_400_not_a_retry(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        refused = client.post("/api/chat", json=comparison(3))
        assert refused.status_code == 400, refused.text
        assert "runs 3 generations at once" in refused.json()["error"]
        assert "ARENA_MAX_STREAMS_PER_USER" in refused.json()["error"]


def test_units_come_back_when_the_client_leaves(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(400)], 0.05
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        with client.stream("POST", "/api/stream_chat", json=comparison(2)) as response:
            lines = generating(response)  # kept: a dropped iterator would close the stream at once
            assert_over_cap(client.post("/api/chat", json=ASK), 2)
            del lines
        # The client hung up; both instances stop and both units come back.
        double.token_delay = 0.0
        assert eventually(lambda: client.post("/api/chat", json=comparison(2)).status_code == 200)


def test_units_come_back_when_an_engine_fails(tmp_path: Path, double: OllamaDouble) -> None:
    double.error_after = 1
    try:
        with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
            for _ in range(3):  # more than the cap: each failed comparison gave its units back
                failed = client.post("/api/chat", json=comparison(2))
                assert failed.status_code == 200 and len(failed.json()["errors"]) == 2, failed.text
    finally:
        double.error_after = None


def test_a_stopped_instance_gives_its_unit_back_while_the_others_go_on(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(100)], 0.05
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        with client.stream("POST", "/api/stream_chat", json=comparison(2)) as response:
            lines = ndjson_lines(response)
            head = next(lines)
            next(lines)
            assert_over_cap(client.post("/api/chat", json=ASK), 2)
            key = head["instances"][0]["instance_id"]
            assert client.post("/api/stop", json={"turn_id": head["turn_id"], "key": key}).status_code == 200
            # One unit is back while the other instance still streams.
            one_token = {"message": "hi", "model_instances": [{"model": QWEN, "num_predict": 1}]}
            assert eventually(lambda: client.post("/api/chat", json=one_token).status_code == 200)
            list(lines)


def test_regenerate_takes_a_unit(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        first = client.post("/api/chat", json=comparison(2)).json()
        conversation = client.get(f"/api/conversations/{first['conversation_id']}").json()
        turn_id, key = conversation["turns"][0]["id"], sorted(first["results"])[0]
        again = {"conversation_id": first["conversation_id"], "regenerate": {"turn_id": turn_id, "key": key}}
        double.reply, double.token_delay = SLOW, 0.05
        with client.stream("POST", "/api/stream_chat", json=comparison(2)) as running:
            lines = generating(running)
            assert_over_cap(client.post("/api/stream_chat", json=again), 2)
            double.token_delay = 0.0
            list(lines)
        double.token_delay = 0.05
        with client.stream("POST", "/api/stream_chat", json=again) as regenerating:
            lines = generating(regenerating)
            # The regeneration holds one unit: a 2-instance comparison is past the cap now.
            assert_over_cap(client.post("/api/chat", json=comparison(2)), 2)
            double.token_delay = 0.0
            list(lines)


def test_a_judge_takes_a_unit(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = SLOW, 0.05
    judge = {
        "judge_model": LLAMA,
        "mode": "pairwise",
        "prompt": "Which is right?",
        "answers": [{"key": "a", "text": "yes"}, {"key": "b", "text": "no"}],
    }
    with arena_with(tmp_path, double, max_streams_per_user=3) as arena, arena.client() as client:
        with client.stream("POST", "/api/stream_chat", json=comparison(3)) as running:
            lines = generating(running)
            assert_over_cap(client.post("/api/judge", json=judge), 3)
            double.token_delay = 0.0
            list(lines)
        # While the judge generates, it holds its unit.
        double.token_delay = 0.05
        done = threading.Event()

        def judge_now() -> None:
            with arena.client() as judging:
                judging.post("/api/judge", json=judge)
            done.set()

        thread = threading.Thread(target=judge_now)
        thread.start()
        try:
            assert eventually(lambda: double.streaming == 1)
            assert_over_cap(client.post("/api/chat", json=comparison(3)), 3)
        finally:
            double.token_delay = 0.0
            thread.join(timeout=60)
        assert done.is_set()
        assert client.post("/api/chat", json=comparison(3)).status_code == 200


def test_the_server_budget_counts_instance_generations(tmp_path: Path, double: OllamaDouble) -> None:
    """Past the server's budget a request waits its turn (test_generation_queue.py), then gets 503."""
    double.reply, double.token_delay = SLOW, 0.05
    with arena_with(tmp_path, double, max_generations_setting=3, queue_timeout_s=0.3) as arena:
        with arena.client() as client, client_from(arena, OTHER_ADDRESS) as other:
            with client.stream("POST", "/api/stream_chat", json=comparison(2)) as running:
                lines = generating(running)
                refused = other.post("/api/chat", json=comparison(2))
                assert refused.status_code == 503, refused.text
                assert int(refused.headers["Retry-After"]) >= 1
                assert "busy" in refused.json()["error"] and "ARENA_MAX_GENERATIONS" in refused.json()["error"]
                double.token_delay = 0.0
                assert other.post("/api/chat", json=ASK).status_code == 200  # the third unit
                list(lines)


# -- benchmarks --------------------------------------------------------------------------------

PROMPTS = "\n".join(json.dumps({"id": f"p{n}", "prompt": f"Question {n}?"}) for n in range(6)).encode()


def seed_run(arena: RunningArena, *, concurrency: int) -> str:
    """A run made outside the server (as `arena bench` makes one), with any concurrency."""
    spec = BenchSpec(instances=[{"model": LLAMA}, {"model": QWEN}], repeats=2, concurrency=concurrency, seed=7)
    with arena.database() as database:
        return create_run(database=database, spec=spec, prompt_set=parse_prompt_set(PROMPTS, filename="set.jsonl"))


def progress(client: httpx.Client, run_id: str) -> dict[str, Any]:
    return client.get(f"/api/bench/runs/{run_id}").json()


def test_a_run_asking_for_more_than_the_cap_is_refused(tmp_path: Path, double: OllamaDouble) -> None:
    config = json.dumps({"instances": [{"model": LLAMA}, {"model": QWEN}], "concurrency": 32})
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        refused = client.post(
            "/api/bench/runs", files={"prompts": ("set.jsonl", PROMPTS)}, data={"config": config}
        )
        assert refused.status_code == 400, refused.text
        assert "concurrency 32" in refused.json()["error"] and "ARENA_MAX_STREAMS_PER_USER" in refused.json()["error"]
        assert client.get("/api/bench/runs").json()["runs"] == []


def test_a_run_with_concurrency_32_never_runs_more_than_the_cap(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(8)], 0.05
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        run_id = seed_run(arena, concurrency=32)
        double.peak_streaming = 0
        assert client.post(f"/api/bench/runs/{run_id}/resume").status_code == 200
        assert eventually(lambda: double.streaming >= 2)
        # The owner's budget is spent by the run: their chat is refused meanwhile.
        assert_over_cap(client.post("/api/chat", json=ASK), 2)
        assert eventually(lambda: progress(client, run_id)["status"] == "done", within=60)
        assert double.peak_streaming == 2, "24 items with concurrency 32 ran past the cap"
        assert client.post("/api/chat", json=comparison(2)).status_code == 200


def test_cancelling_a_run_gives_its_units_back(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(200)], 0.05
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena, arena.client() as client:
        run_id = seed_run(arena, concurrency=2)
        assert client.post(f"/api/bench/runs/{run_id}/resume").status_code == 200
        assert eventually(lambda: double.streaming >= 2)
        assert_over_cap(client.post("/api/chat", json=ASK), 2)
        assert client.post(f"/api/bench/runs/{run_id}/cancel").status_code == 200
        assert eventually(lambda: progress(client, run_id)["status"] == "cancelled")
        double.token_delay = 0.0
        assert client.post("/api/chat", json=comparison(2)).status_code == 200
