"""/docs in Chromium: Swagger UI renders the arena's OpenAPI 3.1 description, from local files only."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(embedded_enabled=False)


def test_docs_list_the_operations_and_one_opens(page: Page, arena: RunningArena) -> None:
    # The `page` fixture fails on a CSP violation, an uncaught error or any request elsewhere.
    page.goto(f"{arena.url}/docs")
    stream_chat = page.locator(".opblock-post", has=page.locator(".opblock-summary-path", has_text="/api/stream_chat"))
    expect(stream_chat).to_have_count(1)
    expect(page.locator(".opblock")).to_have_count(page.evaluate(OPERATIONS), timeout=15_000)
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    stream_chat.locator(".opblock-summary").click()
    body = stream_chat.locator(".opblock-body")
    expect(body).to_be_visible()
    # The operation's own details: the `format` query parameter and its two values.
    expect(body.locator(".parameters")).to_contain_text("format")
    expect(body.locator(".parameters")).to_contain_text("arena")


# How many operations /openapi.json describes (the page must list every one).
OPERATIONS = """async () => {
  const spec = await (await fetch('/openapi.json')).json();
  return Object.values(spec.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
}"""
