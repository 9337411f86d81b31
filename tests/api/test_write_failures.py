"""A database that fails after the first line never hangs a stream: each instance still ends
with a done line carrying an error, the failure is logged (without the prompt or the answer),
and the row is closed with its text once the database is back, or by the next start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arena.evaluation.conversation.compare import Comparison
from arena.storage.db import Database
from arena.storage.models import Response
from arena.web.streaming import STREAM_FAILED
from tests.support.db_fixtures import DATABASE_PARAMS
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import (
    database_url,
    expire_leases,
    failing_final_writes,
    make_read_only,
    serve_arena,
    settings_for,
    terminate_connections,
)
from tests.support.server import ndjson_lines

PROMPT = "Quokka lanterns whisper"
REPLY = [" Saffron", " harbour", " tides", " glimmer", "."]
TWO = [{"model": "ollama:llama3.2:1b"}, {"model": "ollama:llama3.2:1b", "temperature": 0.3}]


@pytest.fixture(params=DATABASE_PARAMS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def url(kind: str, tmp_path: Path) -> Iterator[str | None]:
    with database_url(kind, tmp_path) as found:
        yield found


@pytest.fixture
def talkative(double: OllamaDouble) -> OllamaDouble:
    double.reply = list(REPLY)
    return double


def stream(client: Any, body: dict[str, Any], *, line_format: str = "v3", stop_after: int | None = None) -> list[dict]:
    """Every line of one stream (bounded by the client's timeout: a hang fails the test)."""
    path = "/api/stream_chat" + ("?format=arena" if line_format == "arena" else "")
    lines = []
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        for event in ndjson_lines(response):
            lines.append(event)
            if stop_after is not None and len(lines) == stop_after:
                client.post("/api/stop", json={"turn_id": lines[0]["turn_id"], "key": event["instance_id"]})
    return lines


def done_lines(lines: list[dict]) -> dict[str, dict]:
    ends = [e for e in lines[1:] if e["done"]]
    assert len(ends) == len({e["instance_id"] for e in ends}), "exactly one done line per instance"
    return {e["instance_id"]: e for e in ends}


def streamed_text(lines: list[dict], instance_id: str) -> str:
    return "".join(e["token"] for e in lines[1:] if e["instance_id"] == instance_id and not e["done"])


def stored(database: Database) -> list[Response]:
    with database.session() as session:
        return list(session.scalars(select(Response).order_by(Response.id)))


def wait_until_closed(database: Database, *, within_s: float = 15.0) -> list[Response]:
    deadline = time.monotonic() + within_s
    rows = stored(database)
    while any(r.status == "streaming" for r in rows) and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = stored(database)
    return rows


def assert_logged_without_text(caplog: pytest.LogCaptureFixture) -> None:
    assert "could not record the end of instance" in caplog.text
    for words in (PROMPT, *REPLY[:3]):
        assert words.strip() not in caplog.text


@pytest.mark.timeout(90)
@pytest.mark.parametrize("line_format", ["v3", "arena"])
def test_a_final_write_that_fails_ends_every_instance_with_an_error(
    line_format: str,
    url: str | None,
    tmp_path: Path,
    talkative: OllamaDouble,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    settings = settings_for(tmp_path / "data", url, talkative.url)
    failed = failing_final_writes(monkeypatch)
    with serve_arena(settings) as arena, arena.client() as client:
        lines = stream(client, {"message": PROMPT, "model_instances": TWO}, line_format=line_format)
        rows = stored(arena.database)
    ends = done_lines(lines)
    assert len(ends) == 2 and len(set(failed)) == 2
    for instance_id, end in ends.items():
        assert end["status"] == "error"
        assert "could not be saved" in end["error"]
        assert streamed_text(lines, instance_id) == "".join(REPLY), "the client still got the whole answer"
        if line_format == "v3":
            assert end["type"] == "error" and end["token"] == ""
    assert [r.status for r in rows] == ["streaming", "streaming"]
    assert_logged_without_text(caplog)

    # The database never came back while that process ran: the next start closes the rows.
    monkeypatch.undo()
    with serve_arena(settings) as arena:
        rows = stored(arena.database)
    assert [r.status for r in rows] == ["stopped", "stopped"]
    assert all("".join(REPLY).startswith(r.text) for r in rows), "what was flushed, and nothing else"


@pytest.mark.timeout(90)
def test_the_row_is_closed_with_the_whole_answer_once_the_database_is_back(
    url: str | None, tmp_path: Path, talkative: OllamaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_final_writes(monkeypatch, times=2)
    with serve_arena(settings_for(tmp_path / "data", url, talkative.url)) as arena, arena.client() as client:
        lines = stream(client, {"message": PROMPT, "model_instances": TWO}, line_format="arena")
        rows = wait_until_closed(arena.database)
    assert all(end["status"] == "error" for end in done_lines(lines).values())
    assert [(r.status, r.text) for r in rows] == [("ok", "".join(REPLY))] * 2


@pytest.mark.timeout(90)
def test_a_stop_while_the_database_fails_still_ends_the_instance(
    url: str | None, tmp_path: Path, talkative: OllamaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    talkative.reply = [" word"] * 400
    talkative.token_delay = 0.02
    failing_final_writes(monkeypatch)
    with serve_arena(settings_for(tmp_path / "data", url, talkative.url)) as arena, arena.client() as client:
        lines = stream(client, {"message": PROMPT, "model_instances": TWO[:1]}, line_format="arena", stop_after=3)
    [end] = done_lines(lines).values()
    assert end["status"] == "error"
    assert "could not be saved" in end["error"] and "stopped" in end["error"]


@pytest.mark.timeout(90)
def test_chat_answers_a_json_error_when_the_answer_cannot_be_saved(
    url: str | None, tmp_path: Path, talkative: OllamaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_final_writes(monkeypatch)
    with serve_arena(settings_for(tmp_path / "data", url, talkative.url)) as arena, arena.client() as client:
        one = client.post("/api/chat", json={"message": PROMPT, "model_instances": TWO[:1]})
        two = client.post("/api/chat?format=arena", json={"message": PROMPT, "model_instances": TWO})
    assert one.status_code == 503
    assert "could not be saved" in one.json()["error"]
    assert two.status_code == 200
    assert set(two.json()["errors"]) == set(two.json()["results"])
    assert all("could not be saved" in error for error in two.json()["errors"].values())


@pytest.mark.timeout(90)
def test_sqlite_turned_read_only_mid_stream(
    tmp_path: Path, talkative: OllamaDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    talkative.reply = [f" w{i}" for i in range(60)]
    talkative.token_delay = 0.02
    settings = settings_for(tmp_path / "data", None, talkative.url)
    with serve_arena(settings) as arena, arena.client() as client:
        lines = []
        with client.stream("POST", "/api/stream_chat", json={"message": PROMPT, "model_instances": TWO}) as response:
            for event in ndjson_lines(response):
                lines.append(event)
                if len(lines) == 2:
                    make_read_only(arena.database)
    ends = done_lines(lines)
    assert len(ends) == 2
    assert all(end["status"] == "error" and "could not be saved" in end["error"] for end in ends.values())
    assert "could not record the end of instance" in caplog.text
    # That process could not even release its lease (same pid as the next one here): it runs out.
    expire_leases(settings)
    with serve_arena(settings) as arena:
        rows = stored(arena.database)
    assert [r.status for r in rows] == ["stopped", "stopped"]


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_postgresql_connections_killed_under_streams(tmp_path: Path, talkative: OllamaDouble) -> None:
    talkative.reply = [f" w{i}" for i in range(80)]
    talkative.token_delay = 0.01
    with database_url("postgresql", tmp_path) as url:
        with serve_arena(settings_for(tmp_path / "data", url, talkative.url)) as arena, arena.client() as client:
            lines = []
            body = {"message": PROMPT, "model_instances": [*TWO, {"model": "ollama:qwen2.5:0.5b"}]}
            with client.stream("POST", "/api/stream_chat?format=arena", json=body) as response:
                killed = 0
                for event in ndjson_lines(response):
                    lines.append(event)
                    if len(lines) % 10 == 0:
                        killed += terminate_connections(arena.database)
            rows = wait_until_closed(arena.database, within_s=30)
    assert killed > 0, "the fault happened"
    ends = done_lines(lines)
    assert len(ends) == 3
    assert all(r.status != "streaming" for r in rows)
    for row in rows:  # closed with its text: whole when ok, a prefix of what streamed otherwise
        assert streamed_text(lines, row.instance_id).startswith(row.text)
        if ends[row.instance_id]["done"] and "error" not in ends[row.instance_id]:
            assert row.status == "ok"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("line_format", ["v3", "arena"])
def test_a_stream_that_breaks_on_the_server_still_ends_every_instance(
    line_format: str,
    tmp_path: Path,
    talkative: OllamaDouble,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    real_batches = Comparison.batches

    async def breaking(self: Comparison) -> AsyncIterator[Any]:
        count = 0
        async for batch in real_batches(self):
            for event in batch:
                yield [event]
                count += 1
                if count == 2:
                    raise RuntimeError(PROMPT)  # as a bug quoting the prompt would

    monkeypatch.setattr(Comparison, "batches", breaking)
    with serve_arena(settings_for(tmp_path / "data", None, talkative.url)) as arena, arena.client() as client:
        lines = stream(client, {"message": PROMPT, "model_instances": TWO}, line_format=line_format)
        rows = wait_until_closed(arena.database)
    ends = done_lines(lines)
    assert len(ends) == 2
    assert all(end["status"] == "error" and end["error"] == STREAM_FAILED for end in ends.values())
    assert all(r.status != "streaming" for r in rows), "the instances themselves were stopped and recorded"
    assert "RuntimeError" in caplog.text and PROMPT not in caplog.text
