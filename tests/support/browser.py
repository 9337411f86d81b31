"""Driving the arena page in a real headless Chromium: what the page must not do, and the steps
tests share (open the arena, add an instance, send a prompt, wait for the answers).

The fixtures that start the browser and fail a test on what `PageProblems` records are in
tests/browser/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Dialog, Locator, Page, Request, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Generations on a shared CPU: long enough for a slow machine, short enough to fail visibly.
ANSWER_TIMEOUT_MS = 90_000


@dataclass
class PageProblems:
    """What the page did wrong while a test drove it."""

    errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def on_request(self, request: Request) -> None:
        # Everything comes from the arena itself, on loopback: no CDN, no fonts, no telemetry.
        if not request.url.startswith(("http://127.0.0.1:", "blob:", "data:")):
            self.foreign_requests.append(request.url)


def watch(page: Page, problems: PageProblems) -> None:
    """Record uncaught errors, CSP violations, requests to other hosts and alert/confirm/prompt dialogs."""
    page.on("pageerror", lambda error: problems.errors.append(str(error)))
    page.on("console", problems.on_console)
    page.on("request", problems.on_request)

    def on_dialog(dialog: Dialog) -> None:
        problems.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)


def open_arena(page: Page, url: str) -> None:
    """Load the arena and wait until its modules have wired everything up."""
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def add_instance(page: Page, model: str, **values: float) -> None:
    """Pick `model`, type the given hyperparameters (others keep their defaults), press Add instance."""
    page.select_option("#model-select", model)
    for name in ("temperature", "top_p", "top_k", "repeat_penalty", "num_predict", "seed"):
        field_ = page.locator(f"#param-{name}")
        field_.fill(str(values[name]) if name in values else field_.get_attribute("data-default") or "")
    page.click("#add-instance")


def send(page: Page, text: str) -> None:
    page.fill("#prompt-input", text)
    page.keyboard.press("Control+Enter")


def last_turn(page: Page) -> Locator:
    return page.locator(".turn").last


def wait_until_answered(page: Page, *, cards: int, turns: int) -> None:
    """The page shows `turns` turns and every card of the last one finished (ok, error or stopped)."""
    expect(page.locator(".turn")).to_have_count(turns, timeout=ANSWER_TIMEOUT_MS)
    finished = last_turn(page).locator(".card:is([data-status=ok],[data-status=error],[data-status=stopped])")
    expect(finished).to_have_count(cards, timeout=ANSWER_TIMEOUT_MS)
