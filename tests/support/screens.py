"""Layout checks shared by the browser tests that look at whole pages: horizontal overflow at a
given width, and where full-page screenshots go."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.support.browser import ARTIFACTS

SCREENS = ARTIFACTS / "screens"
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in portrait: the width the issue measured
DESKTOP = {"width": 1440, "height": 900}

# Run in the page: what sticks out sideways. An element may be wider than the window only inside a
# box that scrolls sideways on its own (a wide table's .table-scroll, a code block's <pre>) and
# itself fits; hidden things and the off-screen drawer (left of the window) take no room.
OVERFLOW_JS = """
() => {
  const limit = window.innerWidth;
  const found = [];
  const scrollsSideways = (node) => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(node).overflowX);
  const describe = (node) => {
    const id = node.id ? `#${node.id}` : "";
    const classes = node.classList.length ? `.${[...node.classList].join(".")}` : "";
    return `${node.tagName.toLowerCase()}${id}${classes}`;
  };
  for (const node of document.body.querySelectorAll("*")) {
    const box = node.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right <= limit + 0.5) continue;
    let clipped = false;
    for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
      if (scrollsSideways(up)) { clipped = true; break; }
    }
    if (!clipped) found.push(`${describe(node)} reaches ${Math.round(box.right)} px`);
  }
  return { page: document.scrollingElement.scrollWidth, window: limit, elements: found.slice(0, 12) };
}
"""


def overflow(page: Page) -> list[str]:
    """What makes the page wider than its window, as readable findings (none when it fits)."""
    found = page.evaluate(OVERFLOW_JS)
    problems = list(found["elements"])
    if found["page"] > found["window"]:
        problems.insert(0, f"the page is {found['page']} px wide in a {found['window']} px window")
    return problems


def save_screen(page: Page, name: str) -> Path:
    """A full-page PNG under test-artifacts/screens/ (git-ignored), for a person to look at."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
