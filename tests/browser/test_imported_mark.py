"""An imported conversation says so, in the sidebar and above its answers: it looks like the
original otherwise, and a user must not expect its votes on the leaderboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import open_arena
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena, ndjson_lines

pytestmark = pytest.mark.browser

LLAMA = "ollama:llama3.2:1b"
double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def test_an_imported_conversation_is_marked_and_says_its_votes_stay_off_the_leaderboard(
    arena: RunningArena, page: Page
) -> None:
    with arena.client() as client:
        with client.stream(
            "POST", "/api/stream_chat?format=arena", json={"message": "Hi", "model_instances": [{"model": LLAMA}]}
        ) as response:
            original_id = list(ndjson_lines(response))[0]["conversation_id"]
        export = client.get(f"/api/conversations/{original_id}/export").content
    open_arena(page, arena.url)
    page.locator("#import-input").set_input_files(
        files=[{"name": "chat.json", "mimeType": "application/json", "buffer": export}]
    )
    expect(page.locator("#toasts .toast.success")).to_contain_text("Imported")

    expect(page.locator("#imported-badge")).to_be_visible()
    expect(page.locator("#imported-note")).to_contain_text("stay off the leaderboard")
    sessions = page.locator(".session")
    expect(sessions).to_have_count(2)
    imported = sessions.filter(has=page.locator(".badge-imported"))
    expect(imported).to_have_count(1)
    expect(page.locator(f'.session[data-id="{original_id}"] .badge-imported')).to_have_count(0)

    page.locator(f'.session[data-id="{original_id}"] .session-open').click()
    expect(page.locator("#imported-badge")).to_be_hidden()
    expect(page.locator("#imported-note")).to_be_hidden()
