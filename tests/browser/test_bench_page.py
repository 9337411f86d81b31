"""The /bench page in a real headless Chromium: start a run, watch it live, cancel, resume, open the report."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from arena.evaluation.bench import control
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
PROMPTS = (
    b'{"id": "sky", "prompt": "Why is the sky blue?", "category": "science"}\n{"id": "tea", "prompt": "What is tea?"}\n'
)
TIE = '{"explanation": "Equally good.", "verdict": "tie"}'


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def fill_run(page: Page, url: str, *, prompts: bytes = PROMPTS, repeats: int = 1) -> None:
    page.goto(f"{url}/bench")
    expect(page.locator("#instance-model option")).to_have_count(2)
    page.set_input_files("#bench-prompts", files=[{"name": "set.jsonl", "mimeType": "text/plain", "buffer": prompts}])
    for model in (LLAMA, QWEN):
        page.select_option("#instance-model", model)
        page.fill("#instance-num-predict", "8")
        page.click("#add-instance")
    expect(page.locator("#instance-list li")).to_have_count(2)
    page.fill("#bench-repeats", str(repeats))
    page.fill("#bench-concurrency", "1")


def test_a_run_started_on_the_page_shows_live_progress_and_opens_its_report(
    page: Page, arena: RunningArena, double: OllamaDouble
) -> None:
    double.reply = [TIE[i : i + 4] for i in range(0, len(TIE), 4)]  # ~0.7 s an answer: long enough to watch
    double.token_delay = 0.05
    fill_run(page, arena.url)
    # Pulling a model happens in the arena's Model manager: the form says where.
    expect(page.locator(".bench-manager-hint a[href='/']")).to_be_visible()
    page.select_option("#judge-model", LLAMA)
    page.fill("#judge-num-predict", "64")  # a CPU-friendly verdict length, kept with the run for resume
    page.click("#start-run")

    row = page.locator("#runs-body tr").first
    expect(row).to_have_attribute("data-status", "running")
    run_id = row.get_attribute("data-run-id")
    assert page.request.get(f"{arena.url}/api/bench/runs/{run_id}").json()["judge"]["num_predict"] == 64
    expect(row.locator("progress")).to_have_attribute("max", "6")  # 2 prompts × 2 models + 2 judged pairs
    expect(row).to_have_attribute("data-status", "done", timeout=30_000)
    expect(row.locator(".bench-count")).to_have_text("6 / 6")
    expect(page.locator("#bench-error")).to_be_hidden()

    with page.expect_popup() as popup_info:
        row.locator("a[data-role=report]").click()
    report = popup_info.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_contain_text("Benchmark: set")
    assert report.locator("svg.chart").count() >= 4
    expect(report.locator("#reproduce pre")).to_contain_text("arena bench run set.jsonl")


def test_a_run_is_cancelled_and_resumed_from_the_page(page: Page, arena: RunningArena, double: OllamaDouble) -> None:
    double.token_delay = 0.05
    fill_run(page, arena.url, repeats=3)
    page.click("#start-run")
    row = page.locator("#runs-body tr").first
    expect(row).to_have_attribute("data-status", "running")

    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_attribute("data-status", "cancelled", timeout=10_000)
    unfinished = row.locator(".bench-count").inner_text()
    assert unfinished != "12 / 12"

    row.get_by_role("button", name="Resume").click()
    expect(row).to_have_attribute("data-status", "done", timeout=60_000)
    expect(row.locator(".bench-count")).to_have_text("12 / 12")


def test_a_bad_prompt_file_is_reported_on_the_page_and_starts_nothing(page: Page, arena: RunningArena) -> None:
    fill_run(page, arena.url, prompts=b'{"prompt": "fine"}\n{"prompt": "broken"\n')
    page.click("#start-run")

    expect(page.locator("#bench-error")).to_contain_text("set.jsonl: line 2: not valid JSON")
    expect(page.locator("#runs-empty")).to_be_visible()


def test_a_run_queued_for_bench_workers_says_it_waits_for_a_worker(
    page: Page, double: OllamaDouble, arena_factory: ArenaFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "WAITING_AFTER_S", 0.5)  # the server runs in this process
    arena = arena_factory(bench_runner="workers", ollama_hosts=[double.url], embedded_enabled=False)
    fill_run(page, arena.url)
    page.click("#start-run")

    row = page.locator("#runs-body tr").first
    expect(row).to_have_attribute("data-status", "queued")
    expect(row.locator(".bench-waiting")).to_have_text("waiting for a worker (arena bench worker)")
    expect(row.get_by_role("button", name="Cancel")).to_be_visible()
    assert double.bodies("/api/chat") == [], "the web process runs nothing itself"
