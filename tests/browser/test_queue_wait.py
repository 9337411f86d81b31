"""The arena page while the server has no free slot (issue 12): a new comparison says by the
composer, a regenerated card says on itself, how many requests are ahead; both answer once a
slot comes free."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import add_instance, last_turn, open_arena, send, wait_until_answered
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, ndjson_lines

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

LLAMA = "ollama:llama3.2:1b"
WAITING = "Waiting for a free slot — 0 ahead"


@contextmanager
def slot_taken(arena: RunningArena, double: OllamaDouble) -> Iterator[None]:
    """Another client holds the server's only slot until the block ends."""
    generating = threading.Event()

    def hold() -> None:
        with arena.client() as client, client.stream("POST", "/api/stream_chat", json={"message": "hold", "models": [LLAMA]}) as held:
            for n, _ in enumerate(ndjson_lines(held)):
                if n == 1:
                    generating.set()

    double.reply, double.token_delay = [f" w{i}" for i in range(2000)], 0.05
    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert generating.wait(30)
        yield
    finally:
        # The reply is set before the holder is let go: the waiting request reaches the double
        # as soon as the slot comes free, and the double reads `reply` when a request arrives.
        double.reply = ["The", " answer"]
        double.token_delay = 0.0  # the holder finishes at once
        holder.join(60)


def test_a_waiting_comparison_and_a_waiting_regenerate_say_where_they_stand(
    arena_factory: ArenaFactory, double: OllamaDouble, page: Page
) -> None:
    arena = arena_factory(ollama_hosts=[double.url], embedded_enabled=False, max_generations_setting=1)
    double.reply = ["The", " answer"]
    open_arena(page, arena.url)
    add_instance(page, LLAMA)
    status = page.locator("#queue-status")

    with slot_taken(arena, double):
        send(page, "Hello?")
        expect(status).to_have_text(WAITING)
        expect(page.locator(".turn")).to_have_count(0)  # no turn until its answers start
    wait_until_answered(page, cards=1, turns=1)
    expect(status).to_be_hidden()
    card = last_turn(page).locator(".card").first
    expect(card.locator(".answer")).to_have_text("The answer")

    with slot_taken(arena, double):
        card.get_by_role("button", name="Regenerate").click()
        expect(card.locator(".answer")).to_have_text(WAITING)
    expect(card).to_have_attribute("data-status", "ok")
    expect(card.locator(".answer")).to_have_text("The answer")
