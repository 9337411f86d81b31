"""The model manager's Pull with a Hugging Face repo, with Ollama down: the bar fills, the GGUF
appears among the embedded models (marked base: it has no chat template), a wrong quant says
what the repo has."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.engines.test_base_models import gguf_header
from tests.support.browser import open_arena
from tests.support.doubles.hf_hub import HfHubDouble, hf_hub_double
from tests.support.fixtures import ArenaFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

REPO = "arena-test/tiny-GGUF"


@pytest.fixture
def hub() -> Iterator[HfHubDouble]:
    with hf_hub_double() as double:
        tiny = gguf_header({"general.architecture": "llama", "general.name": "tiny"}) + b"\x02" * 200_000
        double.add_repo(REPO, {"tiny-Q4_K_M.gguf": tiny, "tiny-Q8_0.gguf": tiny + b"8"})
        yield double


def test_a_gguf_is_pulled_from_the_page_with_ollama_down(arena_factory: ArenaFactory, hub: HfHubDouble, page: Page) -> None:
    arena = arena_factory(ollama_hosts=["http://127.0.0.1:9"], hf_endpoint=hub.url)
    open_arena(page, arena.url)
    page.get_by_role("button", name="Model manager").click()
    manager = page.locator("#manager-dialog")
    pull = manager.get_by_role("button", name="Pull")
    expect(pull).to_be_enabled()  # Ollama is down, the hub is not needed to be up front

    manager.get_by_label("Pull a model").fill(f"hf:{REPO}:Q9_Z")
    pull.click()
    expect(manager.locator("#manager-error")).to_contain_text("has no Q9_Z GGUF; it has: Q4_K_M, Q8_0")

    manager.get_by_label("Pull a model").fill(f"hf:{REPO}")
    pull.click()
    expect(manager.locator("#pull-figures")).to_have_text(f"Done: hf:{REPO} is ready.")
    expect(manager.locator("#pull-bar")).to_have_attribute("value", "100")
    expect(manager.locator("#pull-log")).to_contain_text("success: ready as local:tiny-q4_k_m")
    row = manager.locator("#manager-engines tr[data-model='local:tiny-q4_k_m']")
    expect(row).to_contain_text("Q4_K_M")
    expect(row.locator(".base-badge")).to_have_text("base")
