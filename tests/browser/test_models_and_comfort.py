"""The model picker and manager, theme, narrow windows and keyboard shortcuts, against the
Ollama protocol double (and the embedded engine's model list)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import PageProblems, add_instance, open_arena, send, wait_until_answered, watch
from tests.support.doubles.ollama import DoubleModel, OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

PULLABLE = DoubleModel(name="phi3:mini", size=2_176_178_913, family="phi3", parameter_size="3.8B", quantization_level="Q4_0")


@pytest.fixture(scope="module")
def double(module_double_factory: DoubleFactory) -> OllamaDouble:
    started = module_double_factory(library=[PULLABLE])
    started.pull_delay = 0.15
    return started


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])



def background_luminance(page: Page) -> float:
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(part) for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_models_are_grouped_by_engine_with_size_and_family(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    with arena.client() as client:
        details = client.get("/api/models").json()["details"]
    groups = page.locator("#model-select optgroup")
    expect(groups).to_have_count(2)
    assert {groups.nth(i).get_attribute("label") for i in range(2)} == {"Embedded", "Ollama"}
    llama = next(d for d in details if d["id"] == "ollama:llama3.2:1b")
    option = page.locator("#model-select optgroup[label=Ollama] option[value='ollama:llama3.2:1b']")
    expect(option).to_have_text("llama3.2:1b (1.2B, Q4_K_M, 1.3 GB)")
    page.select_option("#model-select", llama["id"])
    expect(page.locator("#model-facts")).to_have_text("Ollama · llama · 1.2B · Q4_K_M · 1.3 GB")
    expect(page.locator("#model-select optgroup[label=Embedded] option")).to_have_count(
        len([d for d in details if d["engine"] == "local"])
    )


def test_pull_shows_live_progress_and_delete_asks_first(arena: RunningArena, double: OllamaDouble, page: Page) -> None:
    open_arena(page, arena.url)
    page.get_by_role("button", name="Model manager").click()
    manager = page.locator("#manager-dialog")
    expect(manager).to_be_visible()
    expect(manager.locator("tr[data-model='ollama:llama3.2:1b']")).to_contain_text("Q4_K_M")

    # A name the library lacks: the error line of the stream is shown.
    manager.get_by_label("Pull a model").fill("nosuch:model")
    manager.get_by_role("button", name="Pull").click()
    expect(manager.locator("#manager-error")).to_contain_text("file does not exist")

    manager.get_by_label("Pull a model").fill("phi3:mini")
    manager.get_by_role("button", name="Pull").click()
    bar = manager.locator("#pull-bar")
    # Live: part-way figures appear before the end (the double sends a quarter at a time).
    expect(manager.locator("#pull-figures")).to_have_text(re.compile(r"^[1-9]\d?% · [\d.]+ [MG]B of 2\.2 GB$"))
    expect(manager.locator("#pull-figures")).to_have_text("Done: ollama:phi3:mini is ready.")
    expect(bar).to_have_attribute("value", "100")
    expect(manager.locator("#pull-log li")).to_contain_text(["pulling manifest", "verifying sha256 digest", "success"])
    expect(manager.locator("tr[data-model='ollama:phi3:mini']")).to_contain_text("2.2 GB")
    assert "phi3:mini" in double.models
    expect(page.locator("#model-select option[value='ollama:phi3:mini']")).to_have_count(1)

    manager.get_by_role("button", name="Delete ollama:phi3:mini").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text("ollama:phi3:mini")
    confirm.get_by_role("button", name="Cancel").click()
    assert "phi3:mini" in double.models
    manager.get_by_role("button", name="Delete ollama:phi3:mini").click()
    confirm.get_by_role("button", name="Delete model").click()
    expect(manager.locator("tr[data-model='ollama:phi3:mini']")).to_have_count(0)
    assert "phi3:mini" not in double.models
    expect(page.locator("#model-select option[value='ollama:phi3:mini']")).to_have_count(0)


def test_theme_follows_choice_and_is_remembered(arena: RunningArena, page: Page) -> None:
    page.emulate_media(color_scheme="light")
    open_arena(page, arena.url)
    light = background_luminance(page)
    page.select_option("#theme-select", "dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    dark = background_luminance(page)
    assert dark < light / 4

    page.reload()
    expect(page.locator("#theme-select")).to_have_value("dark")
    assert background_luminance(page) == dark

    # "System" follows the system again.
    page.select_option("#theme-select", "system")
    page.emulate_media(color_scheme="dark")
    assert background_luminance(page) == dark
    page.emulate_media(color_scheme="light")
    assert background_luminance(page) == light


def test_cards_sit_side_by_side_when_wide_and_stack_when_narrow(
    arena: RunningArena, context: BrowserContext, page: Page, problems: PageProblems
) -> None:
    open_arena(page, arena.url)
    add_instance(page, "ollama:llama3.2:1b")
    add_instance(page, "ollama:qwen2.5:0.5b")
    send(page, "Side by side?")
    wait_until_answered(page, cards=2, turns=1)
    first, second = (page.locator(".card").nth(i).bounding_box() for i in range(2))
    assert first and second and first["y"] == second["y"] and second["x"] > first["x"] + first["width"] - 1

    narrow = context.new_page()
    watch(narrow, problems)
    narrow.set_viewport_size({"width": 600, "height": 900})
    open_arena(narrow, page.url)
    expect(narrow.locator(".card")).to_have_count(2)
    first, second = (narrow.locator(".card").nth(i).bounding_box() for i in range(2))
    assert first and second and second["y"] >= first["y"] + first["height"]
    assert first["width"] > 500
    # The sidebar is a drawer behind a button.
    sidebar = narrow.locator("#sessions")
    assert not sidebar.is_visible() or (sidebar.bounding_box() or {"x": -1, "width": 0})["x"] + sidebar.bounding_box()["width"] <= 0
    narrow.get_by_role("button", name="Conversations").click()
    expect(narrow.get_by_role("button", name="+ New comparison")).to_be_in_viewport()


def test_keyboard_shortcuts(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    page.keyboard.press("Control+k")
    expect(page.locator("#model-select")).to_be_focused()

    page.keyboard.press("Control+e")
    expect(page.locator(".toast.error")).to_contain_text("Nothing to export yet")

    add_instance(page, "ollama:llama3.2:1b")
    page.locator("#prompt-input").fill("Shortcut test")
    page.locator("#prompt-input").press("Control+Enter")
    wait_until_answered(page, cards=1, turns=1)
    page.keyboard.press("Control+e")
    expect(page.locator("#export-menu")).to_have_attribute("open", "")
    expect(page.locator("#export-menu button[data-format=json]")).to_be_focused()
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    assert download_info.value.suggested_filename.endswith(".json")
