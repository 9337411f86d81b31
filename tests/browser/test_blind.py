"""Blind mode in the browser: labels only, votes, export while masked, reveal, votes refused after."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import PageProblems, add_instance, open_arena, send, wait_until_answered, watch
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory()


def export(page: Page, format_label: str) -> tuple[str, str]:
    """Download the open conversation through the Export menu: (file name, contents)."""
    page.locator("#export-menu summary").click()
    with page.expect_download() as download_info:
        page.locator("#export-menu").get_by_role("button", name=format_label).click()
    download = download_info.value
    return download.suggested_filename, Path(download.path()).read_text(encoding="utf-8")


def test_blind_votes_then_reveal_then_votes_are_refused(
    arena: RunningArena, context: BrowserContext, page: Page, problems: PageProblems, tmp_path: Path
) -> None:
    open_arena(page, arena.url)
    page.get_by_label("Blind mode").check()
    add_instance(page, SMOL, temperature=0.2, num_predict=10, seed=3)
    add_instance(page, SMOL, temperature=1.3, num_predict=10, seed=3)
    send(page, "Describe a wave in one sentence.")
    wait_until_answered(page, cards=2, turns=1)

    # Only labels: no model name or setting anywhere in the answers or the chips.
    cards = page.locator(".card")
    expect(cards.locator(".card-title")).to_have_text(["Model A", "Model B"])
    expect(page.locator("#instance-chips .chip-label")).to_have_text(["Model A", "Model B"])
    expect(page.locator("#blind-badge")).to_be_visible()
    for region in ("#transcript", "#instance-chips", "#conversation-title"):
        assert "smollm2" not in page.locator(region).inner_text().lower()
        assert "T=" not in page.locator(region).inner_text()
    conversation_id = page.url.split("#c=", 1)[1]

    # Votes: a thumb on Model A, and A better than B.
    model_a = cards.nth(0)
    model_a.get_by_role("button", name="Good answer from Model A").click()
    expect(model_a.get_by_role("button", name="Good answer from Model A")).to_have_attribute("aria-pressed", "true")
    pairwise = page.get_by_role("group", name="Which answer is better?")
    pairwise.get_by_role("button", name="A is better").click()
    expect(pairwise.get_by_role("button", name="A is better")).to_have_attribute("aria-pressed", "true")
    expect(pairwise.get_by_role("button", name="Tie")).to_be_disabled()

    # The export is masked while blind: labels only.
    name, masked_text = export(page, "JSON")
    assert name == f"conversation-{conversation_id[:8]}_blind.json"
    assert "smollm2" not in masked_text.lower()
    masked = json.loads(masked_text)
    assert [i["label"] for i in masked["instances"]] == ["Model A", "Model B"]

    # A second tab opened before the reveal still offers votes...
    stale = context.new_page()
    watch(stale, problems)
    open_arena(stale, f"{arena.url}/#c={conversation_id}")
    stale_b = stale.locator(".card").nth(1).get_by_role("button", name="Bad answer from Model B")
    expect(stale_b).to_be_enabled()

    # Reveal: the table says who was who, with the votes.
    page.get_by_role("button", name="Reveal models").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Reveal").click()
    table = page.locator(".reveal-table")
    expect(table).to_be_visible()
    with arena.client() as client:
        detail = client.get(f"/api/conversations/{conversation_id}").json()
    assert detail["revealed_at"]
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    for index, instance in enumerate(detail["instances"]):
        row = rows.nth(index).locator("th, td")
        expect(row.nth(0)).to_have_text(instance["label"])
        expect(row.nth(1)).to_have_text(SMOL)
        expect(row.nth(2)).to_have_text(re.compile(rf"^T={instance['temperature']} P=0\.9 K=40 R=1\.1 M=10 S=3$"))
        # Model A got the thumb and won the pairwise vote; Model B got neither.
        expect(row.nth(3)).to_have_text("1" if index == 0 else "0")
        expect(row.nth(4)).to_have_text("0")
        expect(row.nth(5)).to_have_text("1" if index == 0 else "0")
    expect(page.locator(".card .card-title").first).to_contain_text("smollm2-135m")
    expect(page.locator(".card .votes button").first).to_be_disabled()
    expect(page.locator("#reveal-button")).to_be_hidden()

    # ...but the server refuses that vote now, and the stale tab says why.
    stale_b.click()
    expect(stale.locator(".card").nth(1).locator(".vote-error")).to_have_text(
        "voting is closed: the models of this conversation were revealed"
    )
    expect(stale_b).to_be_disabled()

    # After the reveal the export is complete.
    name, full_text = export(page, "JSON")
    assert name == f"conversation-{conversation_id[:8]}.json"
    full = json.loads(full_text)
    assert {i["model"] for i in full["instances"]} == {SMOL}
    assert sorted(i["temperature"] for i in full["instances"]) == [0.2, 1.3]
    name, csv_text = export(page, "CSV")
    assert name == f"conversation-{conversation_id[:8]}.csv"
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [row["label"] for row in rows] == ["Model A", "Model B"]
    assert {row["model"] for row in rows} == {SMOL}
    assert {row["prompt"] for row in rows} == {"Describe a wave in one sentence."}
    name, markdown = export(page, "Markdown")
    assert name == f"conversation-{conversation_id[:8]}.md"
    assert "Describe a wave in one sentence." in markdown

    # Importing that file back makes a new conversation with the same turn and answers.
    exported = tmp_path / name
    exported.write_text(full_text, encoding="utf-8")
    page.locator("#import-input").set_input_files(str(exported))
    expect(page.locator(".toast")).to_contain_text("Imported")
    expect(page).not_to_have_url(re.compile(conversation_id))
    expect(page.locator(".turn-prompt")).to_have_text(["Describe a wave in one sentence."])
    expect(page.locator(".card[data-status=ok]")).to_have_count(2)

    # A file that is not an export is refused with the server's reason.
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    page.locator("#import-input").set_input_files(str(broken))
    expect(page.locator(".toast.error")).to_contain_text("broken.json was not imported: the export is not valid JSON")
