"""The page itself: headers that forbid inline code, the token prompt, labels on every control,
conversations that outlive a server restart, and its pure modules (NDJSON decoder, hyperparameter
checks, chip labels) run inside the browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from arena.engines.base import SamplingOptions
from tests.support.browser import open_arena
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, make_settings, running_arena

pytestmark = pytest.mark.browser

PARAMETERS = ("temperature", "top_p", "top_k", "repeat_penalty", "num_predict", "seed")


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(embedded_enabled=False)


def test_the_page_forbids_inline_code_and_asks_for_the_token(tmp_path: Path, page: Page) -> None:
    settings = make_settings(tmp_path / "data", embedded_enabled=False, web_chat_token="s3cret-token")
    with running_arena(settings) as arena:
        ask_for_token(arena, page)


def ask_for_token(arena: RunningArena, page: Page) -> None:
    response = page.goto(arena.url)
    assert response is not None and response.ok
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    html = response.text()
    assert "<script>" not in html and " style=" not in html and " onclick=" not in html

    # WEB_CHAT_TOKEN is set: the first API call is refused and the page asks for the token.
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Token").fill("s3cret-token")
    dialog.get_by_role("button", name="Use token").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(dialog).to_be_hidden()
    expect(page.locator("#session-empty")).to_have_text("No conversations yet.")


def test_conversations_outlive_a_server_restart(tmp_path: Path, page: Page) -> None:
    settings = make_settings(tmp_path / "data", embedded_enabled=False)
    body = {"title": "Kept across restarts", "model_instances": [{"model": "ollama:llama3.2:1b", "temperature": 0.4}]}
    with running_arena(settings) as first:
        with first.client() as client:
            created = client.post("/api/conversations", json=body).json()
    # Another process, another port (so another origin: nothing in the browser's storage applies).
    with running_arena(settings) as second:
        assert second.url != first.url
        open_arena(page, second.url)
        page.locator(f".session[data-id='{created['id']}'] .session-open").click()
        expect(page.locator("#conversation-title")).to_have_text("Kept across restarts")
        expect(page.locator("#instance-chips .chip-label")).to_have_text(["llama3.2:1b (T=0.4 P=0.9 K=40)"])


def test_every_control_has_a_label(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("button, input, select, textarea, summary, a[href]")]
            .filter((control) => {
                const text = (control.getAttribute("aria-label") || control.textContent || "").trim();
                const labelled = control.labels?.length || control.getAttribute("aria-labelledby") || text;
                return !labelled;
            })
            .map((control) => control.outerHTML.slice(0, 120))"""
    )
    assert unlabelled == []
    # Focus is visible: tabbing to a button draws an outline.
    page.locator("#new-conversation").focus()
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")


def test_ndjson_decoder_joins_lines_and_characters_split_across_chunks(arena: RunningArena, page: Page) -> None:
    page.goto(arena.url)
    decoded = page.evaluate(
        """async () => {
            const { NdjsonDecoder } = await import("/static/js/lib/ndjson.js");
            const bytes = new TextEncoder().encode('{"token":"mer"}\\n{"token":"é 🌊"}\\n\\n{"done":true}');
            const decoder = new NdjsonDecoder();
            const seen = [];
            for (let i = 0; i < bytes.length; i += 3) seen.push(...decoder.feed(bytes.slice(i, i + 3)));
            seen.push(...decoder.flush());
            return seen;
        }"""
    )
    assert decoded == [{"token": "mer"}, {"token": "é 🌊"}, {"done": True}]


def test_hyperparameter_checks_and_chip_labels(arena: RunningArena, page: Page) -> None:
    page.goto(arena.url)
    result = page.evaluate(
        """async () => {
            const m = await import("/static/js/arena/instances.js");
            const spec = m.specFromInputs(document.querySelectorAll("#picker-form .field-param input"));
            const defaults = Object.fromEntries(spec.map((f) => [f.name, String(f.default)]));
            const check = (changes) => m.validateValues(spec, { ...defaults, ...changes }).errors.map((e) => e.name);
            const instance = m.makeInstance("local:smollm2-135m-instruct", { ...Object.fromEntries(spec.map((f) => [f.name, f.default])), num_predict: 64, seed: 9 });
            return {
                spec: spec.map((f) => [f.name, f.min, f.max, f.default]),
                defaultsPass: check({}),
                tooHot: check({ temperature: "2.5" }),
                tooCold: check({ temperature: "0" }),
                fractionalK: check({ top_k: "4.5" }),
                empty: check({ seed: "" }),
                words: check({ top_p: "lots" }),
                label: m.instanceLabel(spec, instance),
                defaultLabel: m.instanceLabel(spec, m.makeInstance("ollama:llama3.2:1b", Object.fromEntries(spec.map((f) => [f.name, f.default])))),
                same: m.sameInstance(instance, { ...instance, temperature: 0.7 }),
                different: m.sameInstance(instance, { ...instance, seed: 10 }),
            };
        }"""
    )
    # The form's ranges are the API's own (SamplingOptions), not a copy.
    schema = SamplingOptions.model_json_schema()["properties"]
    assert result["spec"] == [
        [name, schema[name]["minimum"], schema[name]["maximum"], schema[name]["default"]] for name in PARAMETERS
    ]
    assert result["defaultsPass"] == []
    assert result["tooHot"] == ["temperature"] and result["tooCold"] == ["temperature"]
    assert result["fractionalK"] == ["top_k"]
    assert result["empty"] == ["seed"] and result["words"] == ["top_p"]
    assert result["label"] == "smollm2-135m (T=0.7 P=0.9 K=40 M=64 S=9)"
    assert result["defaultLabel"] == "llama3.2:1b (T=0.7 P=0.9 K=40)"
    assert result["same"] is True and result["different"] is False
