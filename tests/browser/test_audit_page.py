"""The /audit page in a real headless Chromium: entries, the filter, an export download and the
chain check, all from the page's own scripts (the `page` fixture fails on CSP violations)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from arena.storage import audit
from arena.storage.db import Database
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


# Here `database` is the running arena's own, not the shared SQLite+PostgreSQL one.
database = arena_database


def test_the_page_lists_filters_exports_and_verifies_the_log(
    arena: RunningArena, database: Database, page: Page, tmp_path: Path
) -> None:
    for number in range(3):
        audit.record(database, actor_id=1, actor="alice", action=audit.VOTE, target=f"c{number}", ip="127.0.0.1")
    audit.record(database, actor_id=2, actor="root", action=audit.USER_ADD, target="bob", detail={"role": "viewer"})
    audit.record(database, actor_id=2, actor="<b>root</b>", action=audit.USER_ROLE, target="bob")

    page.goto(f"{arena.url}/audit")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")

    rows = page.locator("#audit-table tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.first.locator(".actor")).to_have_text("<b>root</b>")  # shown as text, never as markup
    expect(rows.nth(1).locator(".detail")).to_have_text('{"role":"viewer"}')

    page.fill("input[name=action]", "user")
    page.click("#audit-filters button[type=submit]")
    expect(rows).to_have_count(2)
    expect(rows.locator(".action")).to_have_text(["user.role", "user.add"])

    page.fill("input[name=action]", "")
    with page.expect_download() as download_info:
        page.click("#audit-export-jsonl")
    download = download_info.value
    assert download.suggested_filename.startswith("arena-audit-") and download.suggested_filename.endswith(".jsonl")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    exported = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [row["action"] for row in exported] == ["vote"] * 3 + ["user.add", "user.role", "audit.export"]
    expect(rows).to_have_count(6)  # the page reloads: the export is an entry of its own
    expect(rows.first.locator(".action")).to_have_text("audit.export")

    page.click("#audit-verify")
    result = page.locator("#audit-verify-result")
    expect(result).to_contain_text("audit log intact: 6 entries")
    expect(result).to_have_attribute("data-ok", "true")
