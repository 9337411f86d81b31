"""The screenshot walk: every page, with real content on it, at 1440 px and at a phone's 390 px.

Each page must fit its window (nothing scrolls sideways but a box made to: a wide table, a code
block), and a full-page PNG of it lands in test-artifacts/screens/<page>-<width>.png for a person
to look at. The content is made the way a user makes it: a conversation answered through the API
(two models, an answer with a code block), battles voted on, a finished benchmark run, the audit
entries those left; the Ollama double stands in for the models.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.support.accounts import PASSWORD, Session, login
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.screens import DESKTOP, PHONE, overflow, save_screen
from tests.support.server import RunningArena, ndjson_lines

pytestmark = pytest.mark.browser

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
CODE_ANSWER = (
    "Here is a function that reverses the words of a sentence:\n\n"
    "```python\n"
    "def reverse_words(sentence: str) -> str:\n"
    '    """Reverse the order of the words, keeping each word as it is."""\n'
    "    return ' '.join(reversed(sentence.split()))  # a long line, so the block must scroll on a phone\n"
    "```\n\n"
    "| input | output |\n|---|---|\n| `a b c` | `c b a` |\n\n"
    "It runs in **O(n)** time."
)
PROMPTS = b'{"id": "sky", "prompt": "Why is the sky blue?"}\n{"id": "tea", "prompt": "What is tea?"}\n'


@dataclass(frozen=True)
class Content:
    conversation_id: str
    blind_id: str  # a blind conversation, answered and revealed


@pytest.fixture(scope="module")
def double(module_double_factory: DoubleFactory) -> OllamaDouble:
    made = module_double_factory()
    made.reply = [CODE_ANSWER[i : i + 12] for i in range(0, len(CODE_ANSWER), 12)]
    return made


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(accounts=True, ollama_hosts=[double.url], embedded_enabled=False)


@pytest.fixture(scope="module")
def content(arena: RunningArena) -> Content:
    """One answered conversation, a finished benchmark run, and battles for the leaderboard."""
    with login(arena, "ada") as admin:
        with admin.client.stream(
            "POST",
            "/api/stream_chat?format=arena",
            headers={"X-CSRF-Token": admin.csrf_token},
            json={
                "message": "Reverse the words of a sentence in Python.",
                "model_instances": [{"model": LLAMA}, {"model": QWEN}],
            },
        ) as response:
            assert response.status_code == 200
            lines = list(ndjson_lines(response))
        conversation_id = lines[0]["conversation_id"]
        assert sum(1 for line in lines if line.get("done")) == 2
        blind_id = revealed_blind_conversation(admin)
        spec = {
            "instances": [{"model": LLAMA, "num_predict": 8}, {"model": QWEN, "num_predict": 8}],
            "name": "Sky and tea",
        }
        created = admin.request(
            "POST",
            "/api/bench/runs",
            files={"prompts": ("set.jsonl", PROMPTS, "text/plain")},
            data={"config": json.dumps(spec)},
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 60
        while admin.client.get(f"/api/bench/runs/{created.json()['id']}").json()["status"] != "done":
            assert time.monotonic() < deadline, "the benchmark run did not finish"
            time.sleep(0.1)
    with arena.database() as database:
        for winner, loser, times in ((LLAMA, QWEN, 4), (QWEN, "ollama:gemma3:1b", 3), (LLAMA, "ollama:gemma3:1b", 2)):
            for _ in range(times):
                pairwise_vote(database, seed_turn(database, models=[winner, loser]), "A")
    return Content(conversation_id=conversation_id, blind_id=blind_id)


def revealed_blind_conversation(admin: Session) -> str:
    """Made as a user makes it: blind, one turn answered, then the reveal."""
    created = admin.request(
        "POST", "/api/conversations", json={"blind": True, "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    )
    assert created.status_code in (200, 201), created.text
    blind_id = created.json()["id"]
    with admin.client.stream(
        "POST",
        "/api/stream_chat?format=arena",
        headers={"X-CSRF-Token": admin.csrf_token},
        json={"conversation_id": blind_id, "message": "Reverse the words of a sentence in Python."},
    ) as response:
        assert response.status_code == 200
        assert sum(1 for line in ndjson_lines(response) if line.get("done")) == 2
    revealed = admin.request("POST", f"/api/conversations/{blind_id}/reveal")
    assert revealed.status_code == 200, revealed.text
    return blind_id


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#login-username", "ada")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#account-badge")).to_be_attached()


def show_arena(page: Page, url: str, content: Content) -> None:
    page.goto(f"{url}/#c={content.conversation_id}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator(".card[data-status=ok] .answer .highlight")).to_have_count(2)


def show_revealed_blind(page: Page, url: str, content: Content) -> None:
    page.goto(f"{url}/#c={content.blind_id}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#results .reveal-table")).to_be_visible()
    expect(page.locator("#send-button")).to_be_in_viewport()


def show_leaderboard(page: Page, url: str, content: Content) -> None:
    page.goto(f"{url}/leaderboard")
    expect(page.locator("#ratings tbody tr")).to_have_count(3)


def show_bench(page: Page, url: str, content: Content) -> None:
    page.goto(f"{url}/bench")
    expect(page.locator("#runs-body tr[data-status=done]")).to_have_count(1)
    # The count and the report links are in sight, not under the bar or off past the edge.
    seen = page.evaluate(
        SEEN_JS, ["#runs-body .bench-count", "#runs-body a[data-role=report]", "#runs-body a[download]"]
    )
    assert all(seen.values()), seen


# Run in the page: whether each element lies fully inside the window and is not covered by its
# row's progress bar.
SEEN_JS = """
(selectors) => Object.fromEntries(selectors.map((selector) => {
  const node = document.querySelector(selector);
  const box = node.getBoundingClientRect();
  const bar = node.closest("tr").querySelector("progress").getBoundingClientRect();
  const overlapsBar = node.matches(".bench-count") && box.left < bar.right && box.top < bar.bottom && box.bottom > bar.top;
  return [selector, box.width > 0 && box.left >= 0 && box.right <= window.innerWidth && !overlapsBar];
}))
"""


def show_audit(page: Page, url: str, content: Content) -> None:
    page.goto(f"{url}/audit")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#audit-table tbody tr").first).to_be_visible()


def show_docs(page: Page, url: str, content: Content) -> None:
    page.goto(f"{url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()


PAGES: dict[str, Callable[[Page, str, Content], None]] = {
    "arena": show_arena,
    "blind-revealed": show_revealed_blind,
    "leaderboard": show_leaderboard,
    "bench": show_bench,
    "audit": show_audit,
    "docs": show_docs,
}
WIDTHS = {"1440": DESKTOP, "390": PHONE}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_its_window(name: str, width: str, arena: RunningArena, content: Content, page: Page) -> None:
    page.set_viewport_size(WIDTHS[width])
    log_in(page, arena.url)
    PAGES[name](page, arena.url, content)
    save_screen(page, f"{name}-{width}")
    assert overflow(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_login_page_fits_its_window(width: str, arena: RunningArena, page: Page) -> None:
    page.set_viewport_size(WIDTHS[width])
    page.goto(f"{arena.url}/login")
    expect(page.locator("#login-form")).to_be_visible()
    save_screen(page, f"login-{width}")
    assert overflow(page) == []
