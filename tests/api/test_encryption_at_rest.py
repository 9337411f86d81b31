"""Encryption at rest, end to end: a real conversation (a streamed SmolLM2 answer, a system
prompt, an attachment, a judge verdict), an answer that failed, a benchmark run and a raw judge
run leave none of their text (nor error texts, names, file names, categories or answer keys) in
the SQLite file or its WAL, read back identical after a restart with the same key, and a wrong
key stops start-up."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from arena.cli import app as cli
from arena.errors import EncryptionKeyError
from arena.settings import Settings
from arena.storage.crypto import key_id
from arena.web.app import create_app
from tests.support.doubles.judging import JUDGE, JudgingOllama
from tests.support.fixtures import DoubleFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena, make_settings, ndjson_lines, running_arena

KEY, WRONG_KEY = bytes(range(32)), bytes(range(50, 82))
DOUBLE_MODEL = "ollama:llama3.2:1b"
SYSTEM = "You are the lighthouse keeper of Skerryvore and answer tersely."
PROMPT = "Which colour is the lamp room of the Skerryvore lighthouse painted?"
ATTACHMENT = "keeper's log, 1844: the lamp room was painted a deep ochre yellow"
RATIONALE = "Answer B mentions the scattering of light, which is closer to the log entry."
# What the engine said when it failed: it may quote the prompt, as this one does.
ENGINE_ERROR = "model runner crashed while reading 'Bell Rock lamp-room inventory'"
BENCH_NAME = "Northern Lighthouse Board audit, spring"
PROMPT_FILE = "northern_lighthouse_board_questions.jsonl"
CATEGORY = "lamp-room-maintenance-records"
RAW_KEYS = ("keeper-MacLeod-draft-answer", "keeper-Stevenson-draft-answer")
RAW_CATEGORY = "fog-signal-procedures-review"
LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"


def encoded(key: bytes) -> SecretStr:
    return SecretStr(base64.b64encode(key).decode())


@pytest.fixture
def double(double_factory: DoubleFactory) -> JudgingOllama:
    judging = JudgingOllama()
    judging.decide = lambda prompt: json.dumps({"explanation": RATIONALE, "verdict": "B"})
    return double_factory(judging)



def settings_for(data_dir: Path, double: JudgingOllama, key: bytes) -> Settings:
    return make_settings(data_dir, ollama_hosts=[double.url], encryption_key=encoded(key))


def database_bytes(data_dir: Path) -> bytes:
    """The SQLite file and its write-ahead log, as anyone with the disk could read them."""
    files = [data_dir / "arena.db", data_dir / "arena.db-wal"]
    return b"".join(path.read_bytes() for path in files if path.exists())


def snapshot(arena: RunningArena, conversation_id: str) -> dict[str, Any]:
    """Everything the API shows of the conversation: the detail, the verdicts, the export."""
    with arena.client() as client:
        detail = client.get(f"/api/conversations/{conversation_id}")
        verdicts = client.get("/api/judge", params={"conversation_id": conversation_id})
        export = client.get(f"/api/conversations/{conversation_id}/export")
    for response in (detail, verdicts, export):
        assert response.status_code == 200, response.text
    exported = export.json()
    exported.pop("exported_at", None)
    return {"detail": detail.json(), "judgments": verdicts.json(), "export": exported}


def run_a_judged_turn(arena: RunningArena) -> tuple[str, dict[str, str]]:
    body = {
        "message": PROMPT,
        "system": SYSTEM,
        "attachments": [{"filename": "log.txt", "text": ATTACHMENT}],
        "model_instances": [
            {"model": SMOL, "num_predict": 12, "temperature": 0.1, "seed": 3},
            {"model": DOUBLE_MODEL, "num_predict": 12},
        ],
    }
    with arena.client() as client, client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200, response.read()
        first, *events = list(ndjson_lines(response))
    conversation_id = first["conversation_id"]
    answers = {
        i["model"]: "".join(e.get("token", "") for e in events if e["instance_id"] == i["instance_id"] and not e["done"])
        for i in first["instances"]
    }
    with arena.client() as client:
        turn_id = client.get(f"/api/conversations/{conversation_id}").json()["turns"][0]["id"]
        judged = client.post("/api/judge", json={"conversation_id": conversation_id, "turn_id": turn_id, "judge_model": JUDGE})
    assert judged.status_code == 200, judged.text
    return conversation_id, answers


def run_what_else_holds_words(arena: RunningArena, double: JudgingOllama) -> dict[str, str]:
    """An answer that fails, a benchmark run whose items fail, a raw judge run under the caller's
    keys: the error text, names, categories and keys they store, by what each is."""
    double.error_after, double.error_message = 1, ENGINE_ERROR
    failing = {"message": "Count the spare mantles.", "model_instances": [{"model": DOUBLE_MODEL, "num_predict": 8}]}
    with arena.client() as client, client.stream("POST", "/api/stream_chat", json=failing) as response:
        assert response.status_code == 200, response.read()
        assert any(ENGINE_ERROR in json.dumps(event) for event in ndjson_lines(response))
    prompts = json.dumps({"id": "q1", "prompt": "How often are the mantles changed?", "category": CATEGORY})
    spec = {
        "name": BENCH_NAME,
        "instances": [{"model": LLAMA, "num_predict": 4}, {"model": QWEN, "num_predict": 4}],
        "judge": {"instance": {"model": LLAMA}, "mode": "pairs"},
        "repeats": 1,
    }
    with arena.client() as client:
        created = client.post(
            "/api/bench/runs",
            files={"prompts": (PROMPT_FILE, prompts.encode(), "application/octet-stream")},
            data={"config": json.dumps(spec)},
        )
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while (progress := client.get(f"/api/bench/runs/{run_id}").json())["status"] != "done":
            assert time.monotonic() < deadline, progress
            time.sleep(0.05)
        assert progress["items"] == {"error": 2}, progress
    double.error_after = None
    raw = {
        "prompt": "Which keeper logged the fog signal first?",
        "answers": [{"key": RAW_KEYS[0], "text": "MacLeod, at dawn."}, {"key": RAW_KEYS[1], "text": "Stevenson."}],
        "judge_model": JUDGE,
        "category": RAW_CATEGORY,
    }
    with arena.client() as client:
        judged = client.post("/api/judge", json=raw)
    assert judged.status_code == 200, judged.text
    return {
        "engine error": ENGINE_ERROR,
        "bench run name": BENCH_NAME,
        "prompt file name": PROMPT_FILE,
        "category": CATEGORY,
        "judge category": RAW_CATEGORY,
        **{f"answer key {n}": key for n, key in enumerate(RAW_KEYS)},
    }


def test_a_conversation_leaves_no_plaintext_on_disk_and_reads_back_after_a_restart(
    double: JudgingOllama, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with running_arena(settings_for(data_dir, double, KEY)) as arena:
        conversation_id, answers = run_a_judged_turn(arena)
        before = snapshot(arena, conversation_id)
        more_secrets = run_what_else_holds_words(arena, double)
        while_running = database_bytes(data_dir)  # the WAL holds the newest pages now

    title = before["detail"]["title"]
    [verdict] = before["judgments"]["judgments"]
    assert before["export"]["turns"][0]["attachments"][0]["text"] == ATTACHMENT
    assert before["detail"]["turns"][0]["system"] == SYSTEM
    assert RATIONALE in json.dumps(verdict)
    secrets = {"prompt": PROMPT, "system": SYSTEM, "attachment": ATTACHMENT, "title": title, "rationale": RATIONALE}
    secrets |= {f"answer of {model}": answer.strip() for model, answer in answers.items()}
    secrets |= more_secrets
    assert all(len(secret) >= 12 for secret in secrets.values()), secrets  # long enough to mean something
    after_stop = database_bytes(data_dir)
    for name, secret in secrets.items():
        piece = secret[:24].encode()
        assert piece not in while_running, f"the {name} is readable in the database while it runs"
        assert piece not in after_stop, f"the {name} is readable in the database file"
    assert f"enc:v1:{key_id(KEY)}:".encode() in after_stop

    with running_arena(settings_for(data_dir, double, KEY)) as arena:
        assert snapshot(arena, conversation_id) == before
        with arena.client() as client:  # search works on encrypted titles
            listed = client.get("/api/conversations", params={"search": PROMPT[6:20].upper()}).json()
            [run] = client.get("/api/bench/runs").json()["runs"]
            judged = client.get("/api/judge").json()["judgments"]
        assert [c["id"] for c in listed["conversations"]] == [conversation_id]
        assert run["name"] == BENCH_NAME
        assert [(j["key_a"], j["key_b"], j["category"]) for j in judged if j["turn_id"] is None] == [
            (*RAW_KEYS, RAW_CATEGORY)
        ]

    wrong = settings_for(data_dir, double, WRONG_KEY)
    with pytest.raises(EncryptionKeyError) as raised, TestClient(create_app(wrong)):
        pass
    assert f"encrypted with key {key_id(KEY)}, but the configured key is {key_id(WRONG_KEY)}" in str(raised.value)

    served = CliRunner().invoke(
        cli,
        ["serve", "--port", "1"],
        env={"ARENA_DATA_DIR": str(data_dir), "ARENA_ENCRYPTION_KEY": encoded(WRONG_KEY).get_secret_value(), "COLUMNS": "300"},
    )
    assert served.exit_code == 2
    lines = [line for line in served.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"but the configured key is {key_id(WRONG_KEY)}" in lines[0], served.output
