"""The benchmark API over a real server: upload a prompt set, follow the run, cancel, resume, report."""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from arena.storage.auth_models import User
from arena.storage.bench_models import BenchRun
from tests.support.accounts import PASSWORD, api_token
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, make_settings, running_arena

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
PROMPTS = (
    b'{"id": "sky", "prompt": "Why is the sky blue?", "category": "science"}\n'
    b'{"id": "poem", "prompt": "A poem about tea.", "category": "writing"}\n'
)
TIE = '{"explanation": "Equally good.", "verdict": "tie"}'


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)



def config(**overrides: Any) -> str:
    values: dict[str, Any] = {
        "instances": [{"model": LLAMA, "num_predict": 8}, {"model": QWEN, "num_predict": 8}],
        "repeats": 2,
        "seed": 99,
    }
    values.update(overrides)
    return json.dumps(values)


def start(
    client: httpx.Client, *, data: bytes = PROMPTS, filename: str = "set.jsonl", spec: str | None = None
) -> httpx.Response:
    return client.post(
        "/api/bench/runs",
        files={"prompts": (filename, data, "application/octet-stream")},
        data={"config": spec if spec is not None else config()},
    )


def wait_for(client: httpx.Client, run_id: str, statuses: set[str], *, seen: list[dict] | None = None) -> dict:
    deadline = time.monotonic() + 30
    while True:
        progress = client.get(f"/api/bench/runs/{run_id}").json()
        if seen is not None:
            seen.append(progress)
        if progress["status"] in statuses:
            return progress
        assert time.monotonic() < deadline, f"run stuck at {progress}"
        time.sleep(0.05)


def test_an_uploaded_prompt_set_runs_with_live_progress_and_a_report(arena: RunningArena, double: OllamaDouble) -> None:
    double.reply = [TIE]
    double.token_delay = 0.02
    judge = {"instance": {"model": LLAMA}, "mode": "pairs"}
    with arena.client() as client:
        created = start(client, spec=config(judge=judge))
        assert created.status_code == 201, created.text
        run = created.json()
        assert run["total"] == 2 * 2 * 2 + 2 * 2 and run["status"] in ("pending", "running")
        assert run["judge"]["temperature"] == 0.01, "a judge left at defaults judges greedily"

        seen: list[dict] = []
        done = wait_for(client, run["id"], {"done"}, seen=seen)
        listed = client.get("/api/bench/runs").json()["runs"]
        report = client.get(f"/api/bench/runs/{run['id'][:8]}/report").json()
        html = client.get(f"/api/bench/runs/{run['id']}/report", params={"format": "html"})
        csv_text = client.get(f"/api/bench/runs/{run['id']}/report", params={"format": "csv"}).text

    assert done["items"] == {"done": 8} and done["judgments"] == {"done": 4} and done["failed"] == 0
    assert any(0 < p["finished"] < p["total"] for p in seen), "progress was visible while it ran"
    assert [r["id"] for r in listed] == [run["id"]]
    assert len(report["items"]) == 8 and report["prompt_set"]["file"] == "set.jsonl"
    assert report["leaderboard"]["total_battles"] == 4 and report["run"]["seed"] == 99
    assert html.headers["content-security-policy"].startswith("default-src 'none'")
    assert html.text.count("<svg") >= 4
    assert len(csv_text.strip().splitlines()) == 1 + 8


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.sources += [value or "" for name, value in attrs if name in ("src", "href")]


def test_bad_input_is_a_clear_4xx_and_writes_no_run(arena: RunningArena) -> None:
    with arena.client() as client:
        broken = start(client, data=b'{"prompt": "fine"}\n{"prompt": "oops"\n')
        deep = start(client, data=b'{"prompt": "fine"}\n' + b"[" * 50_000 + b"\n")
        long_number = start(client, data=b'{"prompt": "fine", "id": ' + b"7" * 5000 + b"}\n")
        wrong_type = start(client, filename="prompts.pdf")
        bad_config = start(client, spec=config(repeats=0))
        not_json = start(client, spec="{instances")
        unknown = start(client, spec=config(instances=[{"model": "ollama:no-such-model"}]))
        bad_baseline = start(
            client, spec=config(judge={"instance": {"model": LLAMA}, "mode": "baseline", "baseline": 7})
        )
        runs = client.get("/api/bench/runs").json()["runs"]
        missing = client.get("/api/bench/runs/0123456789abcdef")

    assert broken.status_code == 400 and "set.jsonl: line 2: not valid JSON" in broken.json()["error"]
    # Bounded before json.loads, which raised RecursionError / ValueError (500s) on these.
    assert deep.status_code == 400 and "set.jsonl: line 2 is nested more than" in deep.json()["error"]
    assert long_number.status_code == 400 and "set.jsonl: line 1 holds a number" in long_number.json()["error"]
    assert wrong_type.status_code == 400 and "unsupported prompt file type" in wrong_type.json()["error"]
    assert bad_config.status_code == 422 and "config.repeats" in bad_config.json()["error"]
    assert not_json.status_code == 422
    assert unknown.status_code == 404 and "ollama:no-such-model" in unknown.json()["error"]
    assert bad_baseline.status_code == 400 and "baseline position 7" in bad_baseline.json()["error"]
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
    assert runs == []


def test_a_run_is_cancelled_and_resumed_over_the_api(arena: RunningArena, double: OllamaDouble) -> None:
    double.token_delay = 0.05
    with arena.client() as client:
        run = start(client, spec=config(repeats=3, concurrency=1)).json()
        wait_for(client, run["id"], {"running"})
        while client.get(f"/api/bench/runs/{run['id']}").json()["finished"] < 1:
            time.sleep(0.05)
        cancelling = client.post(f"/api/bench/runs/{run['id']}/cancel")
        cancelled = wait_for(client, run["id"], {"cancelled"})
        again = client.post(f"/api/bench/runs/{run['id']}/cancel")
        resumed = client.post(f"/api/bench/runs/{run['id']}/resume", json={})
        twice = client.post(f"/api/bench/runs/{run['id']}/resume", json={})
        done = wait_for(client, run["id"], {"done"})
        finished_cancel = client.post(f"/api/bench/runs/{run['id']}/cancel")

    assert cancelling.status_code == 200 and cancelling.json()["status"] in ("cancelling", "cancelled")
    assert "running" not in cancelled["items"] and cancelled["items"].get("pending")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert resumed.status_code == 200
    assert twice.status_code == 409
    assert done["items"] == {"done": 12}
    assert finished_cancel.status_code == 409 and "already finished" in finished_cancel.json()["error"]


def test_the_bench_page_runs_on_its_own_script_and_style(arena: RunningArena) -> None:
    with arena.client() as client:
        page = client.get("/bench")
        script = client.get("/static/js/pages/bench.js")
        style = client.get("/static/css/pages/bench.css")

    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    links = Links()
    links.feed(page.text)
    assert "/static/js/pages/bench.js" in links.sources and "/static/css/pages/bench.css" in links.sources
    assert not [s for s in links.sources if s.startswith(("http://", "https://"))]
    assert script.status_code == 200 and "/api/bench/runs" in script.text
    assert style.status_code == 200


def test_the_bench_api_needs_the_token_when_one_is_set(tmp_path: Path, double: OllamaDouble) -> None:
    settings = make_settings(
        tmp_path / "data", ollama_hosts=[double.url], embedded_enabled=False, web_chat_token="s3cret"
    )
    with running_arena(settings) as running, running.client() as client:
        refused = client.get("/api/bench/runs")
        allowed = client.get("/api/bench/runs", headers={"Authorization": "Bearer s3cret"})
    assert refused.status_code == 401 and allowed.status_code == 200


def test_a_run_belongs_to_its_creator_and_what_is_done_with_it_is_audited(
    double: OllamaDouble, arena_factory: ArenaFactory
) -> None:
    """Another evaluator — even an account made after the run — cannot find, read, cancel, resume
    or download a run; an admin reads it; starting, cancelling, resuming and reports are audited."""
    double.token_delay = 0.2  # slow enough to be cancelled while it runs
    arena = arena_factory(accounts=True, ollama_hosts=[double.url], embedded_enabled=False)
    bearer = {name: {"Authorization": f"Bearer {api_token(arena, name)}"} for name in ("eve", "rival", "ada")}
    with arena.client(headers=bearer["eve"]) as eve, arena.client(headers=bearer["ada"]) as ada:
        created = start(eve, spec=config(repeats=3, concurrency=1))
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        made = ada.post("/api/users", json={"username": "newbie", "password": PASSWORD, "role": "evaluator"})
        assert made.status_code == 201, made.text
        bearer["newbie"] = {"Authorization": f"Bearer {api_token(arena, 'newbie')}"}
        for other in ("rival", "newbie"):
            with arena.client(headers=bearer[other]) as client:
                assert run_id not in {r["id"] for r in client.get("/api/bench/runs").json()["runs"]}
                for method, path in (
                    ("GET", f"/api/bench/runs/{run_id}"),
                    ("GET", f"/api/bench/runs/{run_id[:8]}"),  # a prefix finds only one's own runs
                    ("GET", f"/api/bench/runs/{run_id}/report?format=csv"),
                    ("POST", f"/api/bench/runs/{run_id}/cancel"),
                    ("POST", f"/api/bench/runs/{run_id}/resume"),
                ):
                    refused = client.request(method, path, json={} if method == "POST" else None)
                    assert refused.status_code == 404, (other, path, refused.text)
                    assert "does not exist" in refused.json()["error"]
        assert run_id in {r["id"] for r in ada.get("/api/bench/runs").json()["runs"]}
        assert ada.get(f"/api/bench/runs/{run_id}").status_code == 200
        assert ada.post(f"/api/bench/runs/{run_id}/cancel", json={}).status_code == 404  # admins read, owners change
        assert eve.post(f"/api/bench/runs/{run_id}/cancel", json={}).status_code == 200
        wait_for(eve, run_id, {"cancelled"})
        assert eve.post(f"/api/bench/runs/{run_id}/resume", json={}).status_code == 200
        assert eve.get(f"/api/bench/runs/{run_id}/report", params={"format": "md"}).status_code == 200
        entries = ada.get("/api/audit", params={"action": "bench"}).json()["entries"]
    assert [(e["action"], e["actor"], e["target"]) for e in reversed(entries)] == [
        ("bench.create", "eve", run_id),
        ("bench.cancel", "eve", run_id),
        ("bench.resume", "eve", run_id),
        ("bench.report", "eve", run_id),
    ]
    assert entries[0]["detail"] == {"format": "md"}
    with arena.database() as database, database.session() as session:
        assert session.get(BenchRun, run_id).owner_id == session.scalar(select(User.id).where(User.username == "eve"))
