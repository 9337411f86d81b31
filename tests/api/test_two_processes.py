"""Two server processes on one database: one starting up never stops the other's live streams,
and it says loudly that it is not alone."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from arena.storage.models import Response
from arena.storage.process_models import ServerProcess
from tests.support.db_fixtures import DATABASE_PARAMS
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import database_url, serve_arena, settings_for
from tests.support.server import ndjson_lines

REPLY = [f" t{i}" for i in range(40)]


@pytest.fixture(params=DATABASE_PARAMS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    with database_url(request.param, tmp_path) as found:
        yield found


@pytest.mark.timeout(120)
def test_a_process_starting_leaves_the_other_processes_streams_alone(
    url: str | None, tmp_path: Path, double: OllamaDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    double.reply = list(REPLY)
    double.token_delay = 0.03
    settings = settings_for(tmp_path / "data", url, double.url)  # one database, one data directory
    body = {"message": "Count.", "model_instances": [{"model": "ollama:llama3.2:1b"}, {"model": "ollama:qwen2.5:0.5b"}]}
    lines = []
    with serve_arena(settings) as first, first.client() as client:
        with client.stream("POST", "/api/stream_chat?format=arena", json=body) as response:
            for event in ndjson_lines(response):
                lines.append(event)
                if len(lines) == 4:  # mid-stream: a second process starts (its start-up recovery runs)
                    with serve_arena(settings) as second, second.client() as other:
                        assert other.get("/api/health/ready").status_code == 200
                        with second.database.session() as session:
                            assert len(session.scalars(select(ServerProcess)).all()) == 2
        with first.database.session() as session:
            rows = session.scalars(select(Response)).all()
    ends = [e for e in lines[1:] if e["done"]]
    assert len(ends) == 2 and all("error" not in e for e in ends), ends
    assert [(r.status, r.text) for r in rows] == [("ok", "".join(REPLY))] * 2
    assert "ANOTHER ARENA SERVER PROCESS IS LIVE ON THIS DATABASE" in caplog.text


@pytest.mark.timeout(60)
def test_processes_sharing_redis_expect_each_other_and_do_not_warn(
    tmp_path: Path, double: OllamaDouble, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = settings_for(tmp_path / "data", None, double.url).model_copy(update={"redis_url": SecretStr(redis_url)})
    with serve_arena(settings) as first, serve_arena(settings) as second:
        for arena in (first, second):
            with arena.client() as client:
                assert client.get("/api/health/live").status_code == 200
        with second.database.session() as session:
            assert len(session.scalars(select(ServerProcess)).all()) == 2
    assert "ANOTHER ARENA SERVER PROCESS" not in caplog.text
