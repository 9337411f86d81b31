"""Past ARENA_MAX_GENERATIONS a request waits its turn (issue 12), through the real server and the
Ollama double: a format-arena stream says where it stands, then answers in full; v3 waits without
a word; the wait is bounded (503, Retry-After); a client that hangs up leaves the queue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from arena.storage.shared_state import connect
from arena.web.app import SERVER_OPTIONS, create_app
from arena.web.schemas.stream import ArenaStreamLine
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import database_gone
from tests.support.fixtures import module_double
from tests.support.server import RunningArena, make_settings, ndjson_lines, running_arena, serving

pytestmark = pytest.mark.timeout(120)

LLAMA = "ollama:llama3.2:1b"
REPLY = [f" w{i}" for i in range(20)]
ARENA_LINE = TypeAdapter(ArenaStreamLine)
double = module_double


def comparison(count: int) -> dict[str, Any]:
    return {"message": "hi", "model_instances": [{"model": LLAMA, "temperature": 0.1 * (n + 1)} for n in range(count)]}


@pytest.fixture(autouse=True)
def slow_replies(double: OllamaDouble) -> Iterator[None]:
    double.reply, double.token_delay, double.first_token_delay = REPLY, 0.05, 0.0
    yield
    double.token_delay = 0.0


def arena_with(tmp_path: Path, double: OllamaDouble, **overrides: object) -> AbstractContextManager[RunningArena]:
    settings = make_settings(tmp_path, ollama_hosts=[double.url], embedded_enabled=False, max_generations_setting=2, **overrides)
    return running_arena(settings)


def client_from(arena: RunningArena, address: str) -> httpx.Client:
    return arena.client(transport=httpx.HTTPTransport(local_address=address))


def documented(lines: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for line in lines:
        parsed = ARENA_LINE.validate_python(line)
        assert set(line) <= set(type(parsed).model_fields), f"undocumented keys in {line}"
        yield line


def test_a_waiting_comparison_shows_its_place_then_answers_in_full(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double) as arena, arena.client() as first, client_from(arena, "127.0.0.2") as second:
        with first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
            head = ndjson_lines(running)
            assert "turn_id" in next(head)  # the budget's 2 units are taken
            next(head)
            with second.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as waiting:
                assert waiting.status_code == 200
                lines = documented(ndjson_lines(waiting))
                assert next(lines) == {"queued": True, "position": 0}  # at once: the response has started
                rest = list(lines)
            list(head)
    queued = [line for line in rest if "queued" in line]
    assert all(line == {"queued": True, "position": 0} for line in queued)  # keep-alives while it waits
    start = rest[len(queued)]
    assert len(start["instances"]) == 2
    done = [line for line in rest if line.get("done")]
    assert len(done) == 2 and not any(line.get("error") for line in done)
    for instance in start["instances"]:
        text = "".join(line.get("token", "") for line in rest if line.get("instance_id") == instance["instance_id"])
        assert text == "".join(REPLY)


def test_v3_waits_without_a_word_and_a_wait_is_bounded(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply = [f" w{i}" for i in range(400)]
    with arena_with(tmp_path, double, queue_timeout_s=0.5) as arena, arena.client() as first:
        with client_from(arena, "127.0.0.2") as second:
            with first.stream("POST", "/api/stream_chat", json=comparison(2)) as running:
                head = ndjson_lines(running)
                next(head)
                next(head)
                # v3: no extra line, ever; past the wait it is a plain 503 with Retry-After.
                with second.stream("POST", "/api/stream_chat", json=comparison(1)) as v3:
                    v3.read()
                assert v3.status_code == 503 and int(v3.headers["Retry-After"]) >= 1
                assert "busy" in v3.json()["error"] and "ARENA_QUEUE_TIMEOUT_S" in v3.json()["error"]
                # Format arena has started its response: the refusal is its last line.
                with second.stream("POST", "/api/stream_chat?format=arena", json=comparison(1)) as arena_stream:
                    lines = list(documented(ndjson_lines(arena_stream)))
                assert lines[0] == {"queued": True, "position": 0}
                assert lines[-1]["queued"] is False and lines[-1]["status"] == 503 and lines[-1]["retry_after"] >= 1
                assert "busy" in lines[-1]["error"]
                assert not any("turn_id" in line for line in lines)
                double.token_delay = 0.0
                list(head)
            # Nothing was stored for the refused requests: the one conversation is the first client's.
            assert len(second.get("/api/conversations").json()["conversations"]) == 1


def test_a_client_that_hangs_up_leaves_the_queue(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply = [f" w{i}" for i in range(60)]  # 3 s
    with arena_with(tmp_path, double, queue_timeout_s=20) as arena, arena.client() as first:
        with client_from(arena, "127.0.0.2") as second, client_from(arena, "127.0.0.3") as third:
            with first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
                head = ndjson_lines(running)
                next(head)
                url, body = "/api/stream_chat?format=arena", comparison(2)
                ahead = second.send(second.build_request("POST", url, json=body), stream=True)
                ahead_lines = ndjson_lines(ahead)  # kept: a dropped iterator closes the stream
                assert next(ahead_lines) == {"queued": True, "position": 0}
                with third.stream("POST", url, json=body) as behind:
                    later = ndjson_lines(behind)
                    assert next(later) == {"queued": True, "position": 1}
                    ahead.close()  # the client ahead hangs up
                    del ahead_lines
                    hung_up = time.monotonic()
                    # Sooner than a keep-alive: the request that hung up is out of the queue at once.
                    assert next(later) == {"queued": True, "position": 0}
                    assert time.monotonic() - hung_up < 2.5
                    rest = list(documented(later))
                list(head)
            assert sum(1 for line in rest if line.get("done") and not line.get("error")) == 2
            # No unit stayed with the request that left: the whole budget is free at once.
            double.token_delay = 0.0
            started = time.monotonic()
            assert second.post("/api/chat", json=comparison(2)).status_code == 200
            assert time.monotonic() - started < 5


@contextmanager
def arena_on_redis(data_dir: Path, double: OllamaDouble, redis_url: str) -> Iterator[str]:
    """One server process of several: its budget in Redis (`app.state.redis`, as ARENA_REDIS_URL sets)."""
    settings = make_settings(data_dir, ollama_hosts=[double.url], embedded_enabled=False, max_generations_setting=2)
    app = create_app(settings)
    app.state.redis = connect(redis_url)
    with serving(app, what="an arena process", lifespan="on", **SERVER_OPTIONS) as url:
        yield url


def test_two_processes_on_one_redis_share_the_budget_and_its_queue(
    tmp_path: Path, double: OllamaDouble, redis_url: str
) -> None:
    # One deployment: both processes on one database (its Redis keys are the database's).
    with arena_on_redis(tmp_path, double, redis_url) as one, arena_on_redis(tmp_path, double, redis_url) as two:
        with httpx.Client(base_url=one, timeout=60) as first, httpx.Client(base_url=two, timeout=60) as second:
            with first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
                head = ndjson_lines(running)
                next(head)
                # The other process's request waits for the units this one holds.
                with second.stream("POST", "/api/stream_chat?format=arena", json=comparison(1)) as waiting:
                    lines = documented(ndjson_lines(waiting))
                    assert next(lines) == {"queued": True, "position": 0}
                    rest = list(lines)
                list(head)
    done = [line for line in rest if line.get("done")]
    assert len(done) == 1 and not done[0].get("error")


def test_a_v3_client_that_gives_up_while_waiting_leaves_the_queue(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply = [f" w{i}" for i in range(400)]
    with arena_with(tmp_path, double, queue_timeout_s=20) as arena, arena.client() as first:
        impatient = httpx.Client(base_url=arena.url, timeout=0.5, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with client_from(arena, "127.0.0.3") as third, impatient:
            with first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
                head = ndjson_lines(running)
                next(head)
                with pytest.raises(httpx.ReadTimeout):  # /api/chat waits without a word; the client gives up
                    impatient.post("/api/chat", json=comparison(1))
                gave_up = time.monotonic()
                with third.stream("POST", "/api/stream_chat?format=arena", json=comparison(1)) as behind:
                    lines = documented(ndjson_lines(behind))
                    # Nobody stays ahead of it (at most a moment, while the server notices the hang-up).
                    while (line := next(lines)) != {"queued": True, "position": 0}:
                        assert line == {"queued": True, "position": 1}
                    assert time.monotonic() - gave_up < 2.5  # sooner than a keep-alive
                    double.token_delay = 0.0
                    rest = list(lines)
                list(head)
    assert sum(1 for line in rest if line.get("done") and not line.get("error")) == 1


def test_a_waiting_stream_whose_turn_cannot_be_written_ends_with_a_line(
    tmp_path: Path, double: OllamaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails as a waiting request's turn comes: its last line says 503, to retry,
    rather than the body breaking off after the queue lines."""
    with arena_with(tmp_path, double) as arena, arena.client() as first, client_from(arena, "127.0.0.2") as second:
        with first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
            head = ndjson_lines(running)
            next(head)
            with second.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as waiting:
                lines = documented(ndjson_lines(waiting))
                assert next(lines) == {"queued": True, "position": 0}

                def database_down(**_: object) -> None:
                    raise database_gone(statement="INSERT INTO turns")

                monkeypatch.setattr("arena.evaluation.conversation.starting.write_turn", database_down)
                list(head)  # the first comparison ends: the waiting one's turn comes, and fails
                rest = list(lines)
        last = rest[-1]
        assert (last["queued"], last["status"], last["retry_after"]) == (False, 503, 5)
        assert "database" in last["error"]
        monkeypatch.undo()
        assert second.post("/api/chat", json=comparison(1)).status_code == 200  # nothing leaked: units came back
