"""The model manager and picker as a new user meets them: engine states before any pull, a failed
pull that stops and says why, no Pull form for those who may not pull, a base model marked where
models are picked, and /audit as a page (not raw JSON) for a non-admin."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import add_instance, open_arena, send, wait_until_answered
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

DOWN = "http://127.0.0.1:9"  # nothing listens there
GEMMA = "local:gemma3-270m"


@pytest.fixture(scope="module")
def double(module_double_factory: DoubleFactory) -> OllamaDouble:
    return module_double_factory()


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    """One Ollama endpoint up, one down."""
    return module_arena_factory(ollama_hosts=[double.url, DOWN])


def open_manager(page: Page) -> None:
    page.get_by_role("button", name="Model manager").click()
    expect(page.locator("#manager-dialog")).to_be_visible()


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#account-badge")).to_contain_text(username)


def test_a_failed_pull_stops_animating_and_shows_the_error(
    arena: RunningArena, double: OllamaDouble, page: Page
) -> None:
    open_arena(page, arena.url)
    open_manager(page)
    manager = page.locator("#manager-dialog")
    manager.get_by_label("Pull a model").fill("nosuch:model")
    manager.get_by_role("button", name="Pull").click()
    expect(manager.locator("#manager-error")).to_contain_text("file does not exist")
    bar = manager.locator("#pull-bar")
    # An indeterminate <progress> (no value) animates for ever; position -1 is exactly that state.
    expect(bar).to_have_attribute("value", "0")
    assert bar.evaluate("bar => bar.position") >= 0
    expect(manager.locator("#pull-progress")).to_have_class("pull-progress failed")
    expect(manager.locator("#pull-figures")).to_have_text("Not pulled: ollama:nosuch:model.")
    expect(manager.get_by_role("button", name="Pull")).to_be_enabled()
    expect(manager.locator("#pull-cancel")).to_be_hidden()
    assert [body["model"] for body in double.bodies("/api/pull")][-1] == "nosuch:model"


def test_engine_states_show_before_any_pull_and_a_down_endpoint_cannot_be_picked(
    arena: RunningArena, double: OllamaDouble, page: Page
) -> None:
    open_arena(page, arena.url)
    open_manager(page)
    states = page.locator("#manager-engine-states")
    up, down = states.locator(f"li[data-endpoint='{double.url}']"), states.locator(f"li[data-endpoint='{DOWN}']")
    expect(up).to_contain_text("reachable")
    expect(up).to_have_class("engine-state up")
    expect(down).to_contain_text("not reachable")
    expect(down).to_contain_text("Ollama is not running at http://127.0.0.1:9")
    expect(states.locator("li.engine-state.up")).to_contain_text(["Embedded", "Ollama"])
    # Two Ollama endpoints: the pull says where; the one that is down is there but cannot be chosen.
    endpoint = page.locator("#pull-endpoint")
    expect(endpoint).to_be_visible()
    expect(endpoint).to_have_value(double.url)
    expect(endpoint.locator(f"option[value='{DOWN}']")).to_be_disabled()
    expect(page.get_by_role("button", name="Pull")).to_be_enabled()
    # Each model once, with where it runs.
    row = page.locator("#manager-engines tr[data-model='ollama:llama3.2:1b']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(double.url)


def test_pull_is_off_with_the_reason_when_ollama_is_down(arena_factory: ArenaFactory, page: Page) -> None:
    down_only = arena_factory(ollama_hosts=[DOWN], embedded_enabled=False)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_arena(page, down_only.url)
    open_manager(page)
    expect(page.locator("#manager-engine-states li.engine-state.down")).to_contain_text("not reachable")
    pull = page.get_by_role("button", name="Pull")
    expect(pull).to_be_disabled()
    reason = page.locator("#pull-unavailable")
    expect(reason).to_be_visible()
    expect(reason).to_contain_text("Ollama is not reachable")
    expect(reason).to_contain_text("ollama serve")
    manager_text = page.locator("#manager-engine-states").inner_text() + reason.inner_text()
    assert manager_text.count("Ollama is not running") == 1, "the engine's reason is said once, on its line"
    page.get_by_label("Pull a model").fill("llama3.2:1b")
    page.get_by_label("Pull a model").press("Enter")
    expect(page.locator("#pull-progress")).to_be_hidden()
    assert not [url for url in requests if "/pull" in url], "nothing was tried"


def test_a_base_model_is_marked_where_models_are_picked(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    notice = page.locator("#model-notice")
    expect(page.locator(f"#model-select option[value='{GEMMA}']")).to_contain_text("· base model")
    expect(page.locator(f"#model-select option[value='{SMOL}']")).not_to_contain_text("base model")
    page.select_option("#model-select", SMOL)
    expect(notice).to_be_hidden()
    page.select_option("#model-select", GEMMA)
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Base model: it was not tuned to follow instructions or chat")
    add_instance(page, GEMMA, num_predict=8)
    expect(page.locator("#instance-chips .chip .base-badge")).to_have_text("base")
    open_manager(page)
    expect(page.locator(f"#manager-engines tr[data-model='{GEMMA}'] .base-badge")).to_have_text("base")


@pytest.fixture(scope="module")
def users(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(accounts=True, ollama_hosts=[double.url])


def test_an_evaluator_sees_no_pull_or_delete_and_gets_an_admins_only_page_at_audit(
    users: RunningArena, page: Page
) -> None:
    log_in(page, users.url, "eve")
    open_arena(page, users.url + "/")
    open_manager(page)
    manager = page.locator("#manager-dialog")
    expect(manager.locator("#manager-engines tr[data-model='ollama:llama3.2:1b']")).to_be_visible()
    expect(manager.locator("#manager-engine-states li.engine-state.up")).to_have_count(2)
    expect(manager.locator("#pull-form")).to_have_count(0)
    expect(manager.get_by_role("button", name="Delete ollama:llama3.2:1b")).to_have_count(0)
    expect(manager.locator("#manager-read-only")).to_have_text(
        "Only admins pull and delete models; you can use every model listed here."
    )

    response = page.goto(users.url + "/audit")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Admins only")
    expect(page.locator("main")).to_contain_text("The audit log is open to admins; your account is an evaluator.")
    expect(page.locator(".app-nav")).to_be_visible()  # the site's own layout, not a JSON body
    expect(page.locator("#account-badge")).to_have_text("eve · evaluator")
    page.get_by_role("link", name="Back to the arena").click()
    expect(page).to_have_url(users.url + "/")

    # A script with the same session asking for JSON still gets JSON.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with users.client(cookies=cookies) as client:
        refused = client.get("/audit", headers={"Accept": "application/json"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "This page needs the admin role; you are evaluator"}


def test_a_viewer_gets_a_page_at_bench_and_audit_and_an_admin_keeps_every_control(
    users: RunningArena, page: Page
) -> None:
    log_in(page, users.url, "vic")
    for path, heading in (("/audit", "Admins only"), ("/bench", "Evaluators and admins only")):
        response = page.goto(users.url + path)
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.click("#logout-button")
    page.wait_for_url("**/login**")  # the logout's own navigation ends before the next begins
    log_in(page, users.url, "ada")
    open_arena(page, users.url + "/")
    open_manager(page)
    expect(page.locator("#pull-form")).to_be_visible()
    expect(page.get_by_role("button", name="Delete ollama:llama3.2:1b")).to_be_visible()
    response = page.goto(users.url + "/audit")
    assert response is not None and response.status == 200


def test_the_manager_shows_which_embedded_models_are_loaded_and_their_memory(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    add_instance(page, SMOL, num_predict=2)
    send(page, "Hi")
    wait_until_answered(page, cards=1, turns=1)
    open_manager(page)
    smol = page.locator(f"#manager-engines tr[data-model='{SMOL}']")
    expect(smol.locator(".loaded-badge")).to_have_text("loaded")
    # The weights, the batch's KV cache of 2 slots × 2048 tokens and the tokenizer's 256 (batched, the default).
    expect(smol.locator("td").nth(4)).to_have_text("199 MB")
    expect(page.locator(f"#manager-engines tr[data-model='{GEMMA}'] .loaded-badge")).to_have_count(0)
