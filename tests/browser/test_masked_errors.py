"""A blind page whose endpoint is down: the card says it could not be reached, never which endpoint."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import open_arena, send, wait_until_answered
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.process import free_port
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

PORT = free_port()  # nothing listens here: the endpoint is down
GIVEAWAYS = ("lcpp", "127.0.0.1", str(PORT), "http", "openai", "smollm", "is it running")
UNREACHABLE = "its engine could not be reached or was busy (the details show after the reveal)"


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(openai_endpoints=[{"name": "lcpp", "base_url": f"http://127.0.0.1:{PORT}/v1"}])


def test_a_blind_card_of_an_endpoint_that_is_down_names_nothing_of_it(arena: RunningArena, page: Page) -> None:
    instances = [{"model": SMOL, "num_predict": 4, "seed": 1}, {"model": "openai:lcpp/smollm-remote"}]
    with arena.client() as client:
        created = client.post("/api/conversations", json={"blind": True, "model_instances": instances}).json()
        body = {"conversation_id": created["id"], "message": "Say hi."}
        with client.stream("POST", "/api/stream_chat", json=body) as response:
            lines = [json.loads(row) for row in response.read().decode().splitlines() if row.strip()]
    (failed,) = [row for row in lines if row.get("done") and row.get("error")]

    # A card restored from the stored turn, then one drawn live from a new turn's stream.
    open_arena(page, f"{arena.url}/#c={created['id']}")
    send(page, "Say hi again.")
    wait_until_answered(page, cards=2, turns=2)

    failing = page.locator(f".card:has(.card-title:text-is('{failed['instance_id']}'))")
    expect(failing).to_have_count(2)
    for card in failing.all():
        expect(card).to_have_attribute("data-status", "error")
        expect(card).to_contain_text(UNREACHABLE)
    shown = page.locator("#transcript").inner_text().lower()
    for word in GIVEAWAYS:
        assert word not in shown, f"{word!r} gives the endpoint away"
