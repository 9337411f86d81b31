"""The original v3 web client, unmodified, against a real arena (Ollama double engine).

Its page, script and styles are served from `../shared/v3-client` (beside the repository) by a
same-origin proxy that passes /api/* to the arena (tests/support/same_origin_proxy.py), and
Chromium drives it as a person would. The arena runs in auth mode `none`, the one mode in which
v3's page (no token, no CSRF header) may work; nothing is exempted for it.

v3's page loads Bootstrap from a CDN; with no internet here those requests are refused, and the
page works on its own styles, as it would offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import PageProblems, watch
from tests.support.doubles.ollama import DoubleModel, OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.same_origin_proxy import same_origin_proxy

V3_CLIENT = Path(__file__).resolve().parents[3] / "shared" / "v3-client"
CDN = "https://cdn.jsdelivr.net/"
MODEL = "llama3.2:1b"
ANSWER = "The sky is blue — Rayleigh scattering."
# What v3's page shows live: metrics lines with `first_token_time` ("… 1st") and the headers it names.
RECORDER = """
window.__seen = {metrics: {}, names: []};
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.arena-metrics')) {
    if (el.textContent.includes('1st')) window.__seen.metrics[el.id] = el.textContent;
  }
  for (const el of document.querySelectorAll('.arena-model-name')) {
    if (!window.__seen.names.includes(el.textContent)) window.__seen.names.push(el.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def v3_files() -> Path:
    for path in ("templates/index.html", "static/app.js", "static/styles.css", "API.md"):
        if not (V3_CLIENT / path).is_file():
            pytest.fail(f"{V3_CLIENT / path} is missing: the v3 client must sit in ../shared/v3-client beside the repository")
    return V3_CLIENT


@pytest.fixture(scope="module")
def double(module_double_factory: DoubleFactory) -> OllamaDouble:
    running = module_double_factory(library=[DoubleModel(name="gemma2:2b", size=1_600_000_000)])
    running.pull_delay = 0.05
    return running


@pytest.fixture(scope="module")
def proxy(v3_files: Path, double: OllamaDouble, module_arena_factory: ArenaFactory) -> Iterator[str]:
    arena = module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)
    with same_origin_proxy(page=v3_files / "templates" / "index.html", static=v3_files / "static", upstream=arena.url) as url:
        yield url


@pytest.fixture
def v3(context: BrowserContext, proxy: str, double: OllamaDouble) -> Iterator[Page]:
    double.reply, double.token_delay = ["The", " sky", " is", " blue", " — ", "Rayleigh", " scattering", "."], 0.05
    problems = PageProblems()
    page = context.new_page()
    watch(page, problems)
    page.route(f"{CDN}**", lambda route: route.abort())
    page.add_init_script(RECORDER)
    page.goto(proxy)
    expect(page.locator(f'#modelSelect option[value="{MODEL}"]')).to_be_attached()
    yield page
    assert not problems.errors, f"uncaught errors in v3's page: {problems.errors}"
    assert not problems.dialogs, problems.dialogs
    assert all(url.startswith(CDN) for url in problems.foreign_requests), problems.foreign_requests


def add_instance(page: Page, model: str, temperature: str) -> None:
    page.select_option("#modelSelect", model)
    page.fill("#addModelTemp", temperature)
    page.click(".btn-add-model")


def send(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.click("#send")


def last_arena(page: Page):
    return page.locator(".arena-container").last


def wait_for_both_answers(page: Page, turns: int) -> None:
    expect(page.locator(".arena-container")).to_have_count(turns)
    expect(page.locator("#send")).to_have_text("Send", timeout=30_000)
    expect(last_arena(page).locator(".bubble")).to_have_text([ANSWER, ANSWER])


def test_two_instances_stream_side_by_side_then_a_second_turn_then_unstreamed(
    v3: Page, double: OllamaDouble
) -> None:
    add_instance(v3, MODEL, "0.7")
    add_instance(v3, MODEL, "1")
    expect(v3.locator("#selectedModelsChips [data-instance-id]")).to_have_count(2)
    v3.check("#streamMode")
    chats_before = len(double.bodies("/api/chat"))

    send(v3, "Why is the sky blue?")
    # While streaming, the text grows in both cards before either is done.
    expect(last_arena(v3).locator(".bubble").first).to_contain_text("The sky")
    wait_for_both_answers(v3, turns=1)
    seen = v3.evaluate("window.__seen")
    live = [m for m in seen["metrics"].values() if re.fullmatch(r"8 tok • \d+\.\d\ds 1st • [\d.]+ t/s", m)]
    assert len(live) >= 2, f"both cards showed their stream metrics: {seen['metrics']}"
    expect(last_arena(v3).locator(".arena-metrics")).to_have_text([re.compile(r"^8 tok • "), re.compile(r"^8 tok • ")])
    sent = double.bodies("/api/chat")[chats_before:]
    assert sorted(body["options"]["temperature"] for body in sent) == [0.7, 1.0]

    send(v3, "And at sunset?")
    wait_for_both_answers(v3, turns=2)
    second = double.bodies("/api/chat")[-1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "assistant", "user"]
    assert second[-1]["content"] == "And at sunset?" and second[-2]["content"] == ANSWER

    v3.uncheck("#streamMode")
    send(v3, "Say it once more.")
    wait_for_both_answers(v3, turns=3)
    expect(last_arena(v3).locator(".arena-metrics")).to_have_text([re.compile(r"^8 tok • "), re.compile(r"^8 tok • ")])

    with v3.expect_download() as download:
        v3.click("#export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    answers = [m for m in exported["history"] if m["role"] == "assistant"]
    assert [m["content"] for m in answers] == [ANSWER] * 6
    assert {m["instance_id"] for m in answers} == {"llama3.2_1b__0.7_0.9_40_1.1_-1_0", "llama3.2_1b__1_0.9_40_1.1_-1_0"}


def test_blind_mode_labels_the_answers_until_the_reveal(v3: Page) -> None:
    add_instance(v3, MODEL, "0.7")
    add_instance(v3, "qwen2.5:0.5b", "0.7")
    v3.check("#streamMode")
    v3.click("#blindModeToggle")
    expect(v3.locator("#revealModelsBtn")).to_be_visible()
    send(v3, "Why is the sky blue?")
    wait_for_both_answers(v3, turns=1)
    names = v3.evaluate("window.__seen.names")
    assert sorted(names) == ["Model A", "Model B"], names
    v3.click("#revealModelsBtn")
    v3.click("#confirmOk")
    summary = v3.locator(".reveal-table")
    expect(summary).to_contain_text("Model A")
    expect(summary).to_contain_text(MODEL)
    expect(summary).to_contain_text("qwen2.5:0.5b")


def test_pull_and_delete_in_the_model_manager(v3: Page, double: OllamaDouble) -> None:
    v3.click(".btn-model-manager")
    expect(v3.locator("#installedModelsTab")).to_contain_text(MODEL)
    v3.click(".tab-btn >> nth=1")
    # v3 decides what is installed by comparing the bare names /api/models lists.
    installed = v3.locator(".model-card", has=v3.locator("h4", has_text="qwen2.5:0.5b"))
    expect(installed.locator(".installed-badge")).to_be_visible()
    card = v3.locator("#availableModelsTab .model-card", has=v3.locator("h4", has_text=re.compile(r"gemma2:2b$")))
    card.locator("button", has_text="Download").click()
    # v3 polls /api/models until the bare name appears, then redraws the card as installed.
    expect(card.locator(".installed-badge")).to_be_visible(timeout=20_000)
    assert "gemma2:2b" in double.models

    v3.click(".tab-btn >> nth=0")
    gemma = v3.locator("#installedModelsTab .model-card", has=v3.locator("h4", has_text="gemma2:2b"))
    gemma.locator("button", has_text="Delete").click()
    v3.click("#confirmOk")
    expect(gemma).to_have_count(0)
    assert "gemma2:2b" not in double.models


def test_api_md_javascript_examples_run_in_the_page(v3: Page, v3_files: Path) -> None:
    """API.md's JavaScript block declares `const response` twice, so it cannot run as one
    script; each of its three examples runs on its own (split at its `//` comments)."""
    text = (v3_files / "API.md").read_text(encoding="utf-8")
    code = text.split("```javascript\n", 1)[1].split("```", 1)[0].replace("llama3.2:3b", MODEL)
    parts = [part for part in re.split(r"^// .*$", code, flags=re.MULTILINE) if part.strip()]
    assert len(parts) == 3
    models, chat, stream = parts
    assert MODEL in v3.evaluate(f"async () => {{ {models}; return models; }}")
    assert v3.evaluate(f"async () => {{ {chat}; return result.assistant; }}") == ANSWER
    logged = v3.evaluate(
        f"async () => {{ const seen = []; const console = {{log: (...a) => seen.push(a)}}; {stream}; return seen; }}"
    )
    # Every line has the `model` and `token` the example prints; the first line's are empty.
    assert {model for model, _ in logged} == {"", MODEL}
    assert "".join(token for _, token in logged) == ANSWER
