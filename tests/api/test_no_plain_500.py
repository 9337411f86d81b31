"""No request is ever answered with a plain-text 500: simultaneous first uses of an instance,
NUL characters, a failing database and a bug each get a JSON answer (and none of the first
two is an error at all)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from arena.storage.db import Database
from arena.storage.models import Instance, Response
from arena.storage.turn_records import InstanceRecord, record_turn
from tests.support.db_fixtures import DATABASE_PARAMS
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import database_url, make_read_only, serve_arena, settings_for
from tests.support.server import ndjson_lines

MODEL = "ollama:llama3.2:1b"


@pytest.fixture(params=DATABASE_PARAMS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    with database_url(request.param, tmp_path) as found:
        yield found


SECRET = "the secret prompt words"


def add_failing_route(app: FastAPI) -> None:
    async def fail() -> None:
        raise RuntimeError(SECRET)  # as a bug quoting what the user sent would

    app.add_api_route("/api/fail", fail)


@pytest.mark.timeout(120)
def test_no_plain_500s(url: str | None, tmp_path: Path, double: OllamaDouble, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    double.reply = ["nul", "\x00", "byte"]
    settings = settings_for(tmp_path / "data", url, double.url, max_streams_per_user=32, max_generations_setting=32)
    with serve_arena(settings, prepare=add_failing_route) as arena:

        async def sixteen_first_uses() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=arena.url, timeout=30) as client:
                body = {"message": "Hi.", "model_instances": [{"model": MODEL, "temperature": 0.42, "seed": 3}]}
                return await asyncio.gather(*(client.post("/api/chat", json=body) for _ in range(16)))

        answers = asyncio.run(sixteen_first_uses())
        assert [a.status_code for a in answers] == [200] * 16
        with arena.database.session() as session:
            assert len(session.scalars(select(Instance)).all()) == 1

        with arena.client() as client:
            # A NUL in any text field is a 422 that says where, never a 500 from PostgreSQL.
            refused = client.post("/api/chat", json={"message": "a\x00b", "model_instances": [{"model": MODEL}]})
            assert refused.status_code == 422
            assert refused.json()["error"].startswith("message: text may not contain NUL")
            nested = {
                "message": "ok",
                "model_instances": [{"model": MODEL}],
                "history": [{"role": "user", "content": "\x00"}],
            }
            assert client.post("/api/stream_chat", json=nested).json()["detail"][0]["loc"] == [
                "body",
                "history",
                0,
                "content",
            ]
            escaped = client.post("/api/chat", json={"message": "a\\u0000b", "model_instances": [{"model": MODEL}]})
            assert escaped.status_code == 200, "a backslash and u0000 typed as text is fine"
            assert client.get("/api/conversations", params={"search": "x\x00"}).status_code == 422

            # A NUL the model produces is stored (as U+FFFD), and the stream is whole.
            with client.stream(
                "POST", "/api/stream_chat?format=arena", json={"message": "Go.", "model_instances": [{"model": MODEL}]}
            ) as response:
                lines = list(ndjson_lines(response))
            assert "".join(e.get("token", "") for e in lines[1:]) == "nul\x00byte"
            assert "error" not in lines[-1]
            with arena.database.session() as session:
                texts = [
                    r.text for r in session.scalars(select(Response).where(Response.turn_id == lines[0]["turn_id"]))
                ]
            assert texts == ["nul\ufffdbyte"]

            # A bug is a JSON 500 whose request id is in the log, without the exception's message.
            failed = client.get("/api/fail")
            assert failed.status_code == 500
            assert failed.headers["content-type"] == "application/json"
            request_id = failed.json()["request_id"]
            assert failed.headers["x-request-id"] == request_id
            assert request_id in caplog.text and "RuntimeError" in caplog.text
            assert SECRET not in caplog.text


@pytest.mark.timeout(60)
def test_a_database_refusing_writes_is_a_json_503(tmp_path: Path, double: OllamaDouble) -> None:
    with serve_arena(settings_for(tmp_path / "data", None, double.url)) as arena, arena.client() as client:
        make_read_only(arena.database)
        answer = client.post("/api/stream_chat", json={"message": "Hi.", "model_instances": [{"model": MODEL}]})
        renamed = client.post("/api/conversations", json={"title": "x", "model_instances": [{"model": MODEL}]})
    for refused in (answer, renamed):
        assert refused.status_code == 503
        assert refused.json()["error"].startswith("the database is unavailable")
        assert int(refused.headers["retry-after"]) > 0


@pytest.mark.postgres
def test_two_turns_recording_one_new_instance_at_once_both_succeed(tmp_path: Path) -> None:
    """The race behind the reported UniqueViolation, made certain: the second insert waits on
    the first's uncommitted row, which then commits."""
    with database_url("postgresql", tmp_path) as url:
        assert url is not None
        database = Database(url=url)
        database.migrate()
        settings = {"temperature": 0.1, "top_p": 0.9, "top_k": 40, "repeat_penalty": 1.1, "num_predict": -1, "seed": 0}
        record = InstanceRecord(instance_id="racing", model=MODEL, settings=settings)

        def write(session: object) -> None:
            record_turn(
                session,  # type: ignore[arg-type]
                conversation_id=None,
                title="t",
                untitled="Untitled",
                instances=[record],
                user_text="hi",
                system=None,
                attachments=None,
                label_for=lambda n: f"Model {n}",
            )

        errors: list[BaseException] = []
        try:
            with database.session() as first:
                write(first)  # holds its new instance row, uncommitted

                def second() -> None:
                    try:
                        with database.session() as session:
                            write(session)
                    except BaseException as exc:
                        errors.append(exc)

                thread = threading.Thread(target=second)
                thread.start()
                thread.join(timeout=1.0)  # blocked on the first's row
            thread.join(timeout=30)
            assert not thread.is_alive() and errors == []
            with database.session() as session:
                assert session.scalars(select(Instance.id)).all() == ["racing"]
        finally:
            database.dispose()
