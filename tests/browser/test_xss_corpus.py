"""What reaches the browser: a corpus of XSS payloads never runs in the arena page.

Every payload (tests/support/xss_payloads.py) calls ``__xss(<number>)`` or opens a dialog if it
runs. A test engine (tests/support/doubles/payload_engine.py) answers with the payloads, so
they travel the real way: streamed as text into the cards, then swapped for the server's
sanitised HTML. The same payloads go into prompts, system prompts, attached file names (accepted
or refused) and conversation titles (seeded through the API and renamed in the sidebar); then the
page is reloaded and every conversation reopened from the sidebar, so the stored copies are
rendered again.

Two passes. Under the page's real Content-Security-Policy nothing may run *and* the browser may
report no violation: a violation would mean a handler, script or inline style reached the DOM
and only the policy stopped it. With ``bypass_csp=True`` the sanitiser and the DOM code must
hold on their own. Both passes also read the DOM: no dangerous element, no ``on*`` attribute,
only web and mail links in rendered Markdown. Two canaries show that the watch would see an
escape: raw payloads inserted without a policy do call the marker, and the strict policy
reports what it blocks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Frame, Page, Response, expect

from arena.engines.router import Router
from tests.support.browser import PageProblems, add_instance, open_arena, watch
from tests.support.doubles.payload_engine import PayloadEngine
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena
from tests.support.xss_payloads import MARKER, PAYLOADS, Payload, batches

pytestmark = pytest.mark.browser

ECHO = "ollama:xss-echo"
FAILING = "ollama:xss-fails"
BATCH_SIZE = 19  # with two refused names, 21 files: at most 20 (MAX_ATTACHMENTS) are attached
BATCHES = batches(BATCH_SIZE)
TITLE_MAX = 200  # the API's limit on a conversation title

# What rendered Markdown may contain (the renderer's allow-list, written out on purpose: widening
# it should be a decision this test makes you take twice).
ANSWER_ATTRIBUTES = {
    "p": set(), "br": set(), "hr": set(), "h1": set(), "h2": set(), "h3": set(), "h4": set(), "h5": set(),
    "h6": set(), "strong": set(), "em": set(), "s": set(), "del": set(), "code": set(), "pre": set(),
    "blockquote": set(), "ul": set(), "ol": {"start"}, "li": set(), "a": {"href", "title", "target", "rel"},
    "table": set(), "thead": set(), "tbody": set(), "tr": set(), "th": {"class"}, "td": {"class"},
    "div": {"class", "data-lang"}, "span": {"class"},
}  # fmt: skip
# What the page's own code (js/lib/code-blocks.js) adds to a code block: a header marked
# data-chrome, an attribute the sanitiser never lets an answer carry. Checked on its own list.
CHROME_ATTRIBUTES = {
    "div": {"class", "data-chrome"}, "span": {"class", "role"}, "button": {"type", "class", "aria-label", "data-state"},
}  # fmt: skip
# Where text from a model, a person or a file name is shown.
SURFACES = ", ".join(
    [
        "#transcript .answer", "#transcript .turn-prompt", "#transcript .turn-system", "#transcript .turn-attachments",
        "#transcript .card-error", "#transcript .card-title", "#session-list", "#attachment-list", "#composer-error",
        "#conversation-title", "#toasts",
    ]
)  # fmt: skip
DANGEROUS = (
    "script, iframe, frame, frameset, object, embed, applet, base, meta, form, style, link, svg, math, img, image, "
    "video, audio, source, input, textarea, select, noscript, template, marquee, details, isindex, xmp"
)
URL_ATTRIBUTES = ["href", "src", "action", "formaction", "srcdoc", "data", "poster", "background", "srcset"]
# Run in the page: every way the DOM could carry a live payload, as readable findings.
AUDIT_JS = """
([surfaces, dangerous, urlAttributes, answerAttributes, chromeAttributes]) => {
  const found = [];
  const show = (node) => node.outerHTML.slice(0, 160);
  // What a browser ignores before a URL's scheme: controls, spaces, zero-width marks.
  const bare = (value) => value.replace(/[\\u0000-\\u0020\\u007f-\\u00a0\\u200b-\\u200f\\u2028\\u2029\\ufeff]/g, "");
  const scriptUrl = /^(javascript|vbscript|data:text|data:image\\/svg)/i;
  for (const region of document.querySelectorAll(surfaces)) {
    for (const node of region.querySelectorAll(dangerous)) found.push(`dangerous element: ${show(node)}`);
  }
  for (const node of document.querySelectorAll("*")) {
    for (const { name, value } of node.attributes) {
      const lowered = name.toLowerCase();
      if (lowered.startsWith("on")) found.push(`event handler attribute ${name}: ${show(node)}`);
      if (urlAttributes.includes(lowered) && scriptUrl.test(bare(value))) found.push(`script URL: ${show(node)}`);
    }
  }
  for (const node of document.querySelectorAll("iframe, frame, object, embed, base, meta[http-equiv]")) {
    found.push(`in the page: ${show(node)}`);
  }
  for (const script of document.scripts) {
    const ours = script.getAttribute("src")?.startsWith("/static/") && !script.textContent.trim();
    if (!ours) found.push(`foreign script: ${show(script)}`);
  }
  for (const node of document.querySelectorAll("#transcript .answer *")) {
    const tag = node.tagName.toLowerCase();
    const chrome = node.closest("[data-chrome]");
    if (chrome && !chrome.matches(".answer div.highlight > div.code-head")) found.push(`misplaced chrome: ${show(node)}`);
    const allowed = (chrome ? chromeAttributes : answerAttributes)[tag];
    if (!allowed) {
      found.push(`tag outside the allow-list: ${show(node)}`);
      continue;
    }
    for (const { name } of node.attributes) {
      if (!allowed.includes(name)) found.push(`attribute outside the allow-list: ${show(node)}`);
    }
    const align = [...node.classList].find((name) => name.startsWith("align-"));
    if (align && getComputedStyle(node).textAlign !== align.slice(6)) found.push(`unaligned: ${show(node)}`);
    if (tag === "a" && node.hasAttribute("href") && !["http:", "https:", "mailto:"].includes(node.protocol)) {
      found.push(`link that is not http(s) or mailto: ${show(node)}`);
    }
  }
  return found;
}
"""

# The canaries' bypass of everything the arena does: each text straight into the page as HTML.
INSERT_RAW_JS = """
texts => {
  for (const text of texts) {
    const box = document.createElement("div");
    box.innerHTML = text;
    document.body.append(box);
  }
}
"""


@dataclass
class Watch:
    """What a page must never do while the corpus is on screen."""

    problems: PageProblems = field(default_factory=PageProblems)
    calls: list[int] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)

    def ran(self) -> list[str]:
        dialogs = [f"dialog {text}" for text in self.problems.dialogs]
        return [f"{MARKER}({number})" for number in self.calls] + dialogs + self.navigations + self.popups


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(router=Router(engines=[PayloadEngine(BATCHES)]), embedded_enabled=False)


@pytest.fixture(scope="module")
def seeded_titles(arena: RunningArena) -> list[str]:
    """One stored conversation per payload, titled with it (as the API keeps it)."""
    with arena.client() as client, ThreadPoolExecutor(max_workers=4) as pool:

        def create(payload: Payload) -> str:
            body = {"title": payload.text[:TITLE_MAX], "model_instances": [{"model": ECHO}]}
            response = client.post("/api/conversations", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["title"])

        return list(pool.map(create, PAYLOADS))


@contextmanager
def watched_page(browser: Browser, arena: RunningArena, *, bypass_csp: bool) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
    watching = Watch()
    page = context.new_page()
    context.on("page", lambda popup: watching.popups.append(f"popup {popup.url}"))  # after our own page
    watch(page, watching.problems)
    page.expose_function(MARKER, lambda number: watching.calls.append(int(number)))

    def on_navigation(frame: Frame) -> None:  # a meta refresh, a javascript: URL, a frame elsewhere
        if not frame.url.startswith((arena.url, "about:")):
            watching.navigations.append(f"navigated to {frame.url}")

    page.on("framenavigated", on_navigation)
    try:
        yield page, watching
    finally:
        context.close()


def audit(page: Page, where: str) -> None:
    answer_attributes = {tag: sorted(names) for tag, names in ANSWER_ATTRIBUTES.items()}
    chrome_attributes = {tag: sorted(names) for tag, names in CHROME_ATTRIBUTES.items()}
    findings = page.evaluate(AUDIT_JS, [SURFACES, DANGEROUS, URL_ATTRIBUTES, answer_attributes, chrome_attributes])
    assert not findings, f"{where}: " + "\n".join(findings)


def load_whole_sidebar(page: Page) -> None:
    sessions = page.locator("#session-list li.session")
    more = page.locator("#session-more")
    while more.is_visible():
        shown = sessions.count()
        more.click()
        expect(sessions).not_to_have_count(shown)


def attach_payload_files(page: Page, batch: list[Payload]) -> None:
    """Each payload as a .txt file's name (kept, or cut to its last path part), and two bare
    payloads as names, which the server refuses with a message that names them."""
    files = [{"name": f"{p.text}.txt", "mimeType": "text/plain", "buffer": f"{p.number}\n".encode()} for p in batch]
    files += [{"name": p.text, "mimeType": "text/plain", "buffer": b"refused\n"} for p in batch[:2]]
    answers: list[Response] = []
    on_response = lambda response: "/api/attachments" in response.url and answers.append(response)  # noqa: E731
    page.on("response", on_response)
    page.locator("#attach-input").set_input_files(files=files)
    deadline = time.monotonic() + 15
    while len(answers) < len(files):
        assert time.monotonic() < deadline, f"{len(answers)} of {len(files)} uploads answered"
        page.wait_for_timeout(50)
    page.remove_listener("response", on_response)
    accepted = sum(response.ok for response in answers)
    assert accepted < len(files), "bare payloads without a text extension are refused"
    expect(page.locator("#attachment-list .chip")).to_have_count(accepted)
    expect(page.locator("#composer-error")).to_be_visible()


def send_batch(page: Page, index: int, batch: list[Payload]) -> tuple[str, str, str]:
    """A new conversation for the batch; returns its id, the prompt and its title (the first
    conversation is renamed in the sidebar, the others keep the title made from the prompt)."""
    page.click("#new-conversation")
    expect(page.locator("#transcript .turn")).to_have_count(0)
    attach_payload_files(page, batch)
    audit(page, f"batch {index}: files attached")
    prompt = f"batch {index}:\n" + "\n".join(p.text for p in batch)
    page.fill("#system-input", "\n".join(p.text for p in reversed(batch)))
    page.fill("#prompt-input", prompt)
    page.keyboard.press("Control+Enter")
    turn = page.locator("#transcript .turn")
    expect(turn).to_have_count(1)
    expect(turn.locator(".card[data-status=ok] .answer")).to_have_class("answer")  # the server's HTML is in
    expect(turn.locator(".card[data-status=error] .card-error")).to_contain_text(batch[0].text.split()[0])
    expect(turn.locator(".turn-prompt")).to_have_text(prompt.strip(), use_inner_text=False)
    conversation_id = page.url.split("#c=", 1)[1]
    if index == 0:
        title = rename_in_sidebar(page, conversation_id, batch[-1])
    else:
        title = page.locator("#conversation-title").text_content() or ""
    audit(page, f"batch {index}: answered and renamed")
    return conversation_id, prompt.strip(), title


def rename_in_sidebar(page: Page, conversation_id: str, payload: Payload) -> str:
    title = " ".join(payload.text.split())[:TITLE_MAX]
    row = page.locator(f'#session-list li.session[data-id="{conversation_id}"]')
    row.get_by_role("button", name=re.compile("^Rename")).click()
    page.fill("#session-list .session-rename", title)
    page.keyboard.press("Enter")
    expect(page.locator("#conversation-title")).to_have_text(title)
    expect(row.locator(".session-title")).to_have_text(title)
    return title


def reopen(page: Page, conversation_id: str, prompt: str, title: str) -> None:
    page.locator(f'#session-list li.session[data-id="{conversation_id}"] .session-open').click()
    expect(page.locator("#conversation-title")).to_have_text(title)
    turn = page.locator("#transcript .turn")
    expect(turn.locator(".turn-prompt")).to_have_text(prompt, use_inner_text=False)
    expect(turn.locator(".card[data-status=ok] .answer")).to_have_class("answer")
    expect(turn.locator(".card[data-status=error]")).to_have_count(1)
    expect(turn.locator(".turn-attachments li").first).to_be_visible()


def run_corpus(page: Page, watching: Watch, arena: RunningArena, seeded_titles: list[str], *, label: str) -> None:
    open_arena(page, arena.url)
    add_instance(page, ECHO)
    add_instance(page, FAILING)
    page.locator("#system-details summary").click()
    sent = []
    for index, batch in enumerate(BATCHES):
        sent.append(send_batch(page, index, batch))
        assert not watching.ran(), f"{label}, batch {index}: payloads ran: {watching.ran()}"

    # Everything again, as stored: a fresh page, every title listed, every conversation reopened.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    load_whole_sidebar(page)
    listed = page.locator("#session-list .session-title").all_text_contents()
    assert set(seeded_titles) <= set(listed), "every payload title is listed, as text"
    audit(page, f"{label}: sidebar after reload")
    for conversation_id, prompt, title in sent:
        reopen(page, conversation_id, prompt, title)
        audit(page, f"{label}: conversation {conversation_id} reopened")
    page.wait_for_timeout(300)  # time for a late onerror/onload to fire, had any got through
    assert not watching.ran(), f"{label}: payloads ran: {watching.ran()}"
    assert not watching.problems.errors, f"{label}: uncaught errors: {watching.problems.errors}"
    assert not watching.problems.foreign_requests, f"{label}: fetched elsewhere: {watching.problems.foreign_requests}"


def test_the_corpus_is_large_and_every_payload_names_itself() -> None:
    assert len(PAYLOADS) >= 100
    assert len({payload.text for payload in PAYLOADS}) == len(PAYLOADS)
    for payload in PAYLOADS:
        assert re.search(rf"(?<!\d){payload.number}(?!\d)", payload.text), payload


def test_no_payload_runs_under_the_page_policy_and_none_needs_it(
    browser: Browser, arena: RunningArena, seeded_titles: list[str]
) -> None:
    with watched_page(browser, arena, bypass_csp=False) as (page, watching):
        run_corpus(page, watching, arena, seeded_titles, label="strict policy")
        # Nothing tried to run or style itself inline: the policy had nothing to block.
        assert not watching.problems.csp_violations, watching.problems.csp_violations


def test_no_payload_runs_without_the_page_policy(
    browser: Browser, arena: RunningArena, seeded_titles: list[str]
) -> None:
    with watched_page(browser, arena, bypass_csp=True) as (page, watching):
        run_corpus(page, watching, arena, seeded_titles, label="policy bypassed")


def test_canary_raw_payloads_do_run_without_the_policy(browser: Browser, arena: RunningArena) -> None:
    """The watch sees an escape: the same payloads, inserted as raw HTML, call the marker."""
    expected = {payload.number for payload in PAYLOADS if payload.raw_html_runs}
    with watched_page(browser, arena, bypass_csp=True) as (page, watching):
        open_arena(page, arena.url)
        page.evaluate(INSERT_RAW_JS, [payload.text for payload in PAYLOADS])
        deadline = time.monotonic() + 10
        while not expected <= seen_numbers(watching):
            if time.monotonic() > deadline:
                break
            page.wait_for_timeout(100)
        assert sorted(expected - seen_numbers(watching)) == [], "these payloads are labelled as running raw"


def test_canary_the_page_policy_reports_what_it_blocks(browser: Browser, arena: RunningArena) -> None:
    """A raw handler under the real policy does not run, and the browser reports the violation."""
    with watched_page(browser, arena, bypass_csp=False) as (page, watching):
        open_arena(page, arena.url)
        page.evaluate(INSERT_RAW_JS, ["<img src=x onerror=__xss(0)>"])
        deadline = time.monotonic() + 10
        while not watching.problems.csp_violations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert watching.problems.csp_violations, "the blocked handler was reported"
        assert watching.calls == []


def seen_numbers(watching: Watch) -> set[int]:
    """Marker calls and the numbers in alert/confirm/prompt dialogs."""
    from_dialogs = {int(found) for text in watching.problems.dialogs for found in re.findall(r"\d+", text)}
    return set(watching.calls) | from_dialogs
