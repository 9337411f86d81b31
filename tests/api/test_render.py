"""Markdown rendered on the server is safe to put into the page, and code is highlighted."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from arena.web.markdown import MAX_MARKDOWN_BYTES, render_markdown
from tests.support.accounts import api_token
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(web_chat_token="render-token")



@pytest.fixture
def client(arena: RunningArena) -> Iterator[httpx.Client]:
    with arena.client(headers={"Authorization": "Bearer render-token"}) as http:
        yield http


def render(client: httpx.Client, markdown: str) -> str:
    response = client.post("/api/render", json={"markdown": markdown})
    assert response.status_code == 200, response.text
    return response.json()["html"]


def tags_and_attributes(html: str) -> list[str]:
    """Every real tag with its attributes (escaped text such as &lt;script&gt; is no tag)."""
    return re.findall(r"<[a-zA-Z][^>]*>", html)


ATTACKS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pixel](data:image/png;base64,iVBORw0KGgo=)",
    '<iframe src="https://example.com"></iframe>',
    '<div style="position:fixed" onclick="steal()">raw html</div>',
    "<svg onload=alert(1)>",
    '[x](https://example.com "title" onmouseover="alert(1)")',
    "```html\n<script>alert(1)</script>\n```",
]


@pytest.mark.parametrize("markdown", ATTACKS)
def test_nothing_in_an_answer_can_run_in_the_page(client: httpx.Client, markdown: str) -> None:
    html = render(client, markdown)
    for tag in tags_and_attributes(html):
        lowered = tag.lower()
        assert not lowered.startswith(("<script", "<img", "<iframe", "<svg", "<style")), html
        assert not re.search(r"\son[a-z]+\s*=", lowered), html
        assert "javascript:" not in lowered and "data:" not in lowered, html
        assert "style=" not in lowered, html
        hrefs = re.findall(r'href="([^"]*)"', tag)
        assert all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), html


def test_raw_html_is_shown_as_text(client: httpx.Client) -> None:
    assert render(client, "<b>bold?</b> <script>alert(1)</script>") == (
        "<p>&lt;b&gt;bold?&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


def test_markdown_becomes_html_with_safe_links(client: httpx.Client) -> None:
    html = render(client, "# Title\n\nSome **bold**, _em_, ~~gone~~ and [a link](https://example.com/a?b=1).")
    assert html.startswith("<h1>Title</h1>\n<p>Some <strong>bold</strong>, <em>em</em>, <s>gone</s> and ")
    [link] = re.findall(r"<a [^>]*>a link</a>", html)
    assert 'href="https://example.com/a?b=1"' in link
    assert 'rel="noopener noreferrer nofollow"' in link and 'target="_blank"' in link
    mail = render(client, "[write](mailto:someone@example.com)")
    assert 'href="mailto:someone@example.com"' in mail
    # A remote image would tell its server the answer was read: it becomes a plain link.
    image = render(client, "![chart](https://example.com/chart.png)")
    assert "<img" not in image and 'href="https://example.com/chart.png"' in image and ">chart</a>" in image


def test_tables_keep_their_alignment_only(client: httpx.Client) -> None:
    html = render(client, "| a | b |\n|:--|--:|\n| 1 | 2 |")
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-right">2</td>' in html


def test_a_fenced_python_block_gets_pygments_spans(client: httpx.Client) -> None:
    html = render(client, "```python\ndef add(a, b):\n    return a + b  # sum\n```")
    assert html.startswith('<div class="highlight" data-lang="python"><pre><code>')
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">add</span>' in html
    assert '<span class="c1"># sum</span>' in html
    plain = render(client, "```\n<b>not html</b>\n```")
    assert plain == '<div class="highlight"><pre><code>&lt;b&gt;not html&lt;/b&gt;\n</code></pre></div>'
    odd = render(client, '```py" onclick="x\nprint(1)\n```')
    assert "onclick" not in odd and '<span class="nb">print</span>' in odd


def test_the_highlight_colours_need_no_token(arena: RunningArena) -> None:
    with arena.client() as anonymous:
        css = anonymous.get("/api/render/pygments.css")
        assert anonymous.post("/api/render", json={"markdown": "hi"}).status_code == 401
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".highlight .k {" in css.text
    assert ':root[data-theme="dark"] .highlight .k {' in css.text
    assert "@media (prefers-color-scheme: dark)" in css.text


def test_render_refuses_a_body_without_markdown(client: httpx.Client) -> None:
    response = client.post("/api/render", json={"text": "hi"})
    assert response.status_code == 422 and "markdown" in response.json()["error"]


def test_table_alignment_needs_no_inline_style(client: httpx.Client) -> None:
    # The page's CSP (style-src 'self') refuses style attributes: alignment comes as a class.
    table = "| a | b | c |\n|:-:|--:|:--|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) | z |"
    html = render(client, table)
    assert "style=" not in html and "<img" not in html and "href" not in html, html
    assert re.findall(r'class="([^"]*)"', html) == ["align-center", "align-right", "align-left"] * 2


# --- bounded: the size of what is rendered, how often, and on which threads ----------------------

# From the penetration test: each took seconds to tens of seconds of CPU, or gave 17.7 MB of HTML.
TOO_LONG = {
    "unclosed links": "[a](" * 500_000,
    "brackets": "[" * 300_000,
    "emphasis": "*a" * 150_000,
    "highlighted html": "```html\n" + "<a " * 300_000 + "\n```",
    "multibyte": "é" * (MAX_MARKDOWN_BYTES // 2 + 1),  # fewer characters than the cap, more bytes
}


@pytest.mark.parametrize("markdown", TOO_LONG.values(), ids=TOO_LONG.keys())
def test_markdown_over_256_kib_is_refused_with_413(client: httpx.Client, markdown: str) -> None:
    started = time.monotonic()
    response = client.post("/api/render", json={"markdown": markdown})
    assert response.status_code == 413, response.text[:200]
    assert f"takes at most {MAX_MARKDOWN_BYTES}" in response.json()["error"]
    assert time.monotonic() - started < 5  # refused before any parsing


def test_markdown_up_to_the_cap_renders(client: httpx.Client) -> None:
    assert render(client, "a" * MAX_MARKDOWN_BYTES) == "<p>" + "a" * MAX_MARKDOWN_BYTES + "</p>"


def test_highlighted_code_cannot_blow_up_the_html(client: httpx.Client) -> None:
    # Pygments made ~18 bytes of spans per byte of this: 4.8 MB for 256 KiB. Past the highlight
    # budget a block is only escaped, so the HTML stays within a few bytes per byte in.
    markdown = "```html\n" + "<a " * ((MAX_MARKDOWN_BYTES - 20) // 3) + "\n```"
    html = render(client, markdown)
    assert len(html) < 2_000_000, len(html)
    assert html.count('<div class="highlight" data-lang="html">') == 1
    coloured = render(client, "```html\n" + "<a " * 1000 + "\n```\n\n```html\n" + "<a " * 30_000 + "\n```")
    first, second = coloured.split('<div class="highlight" data-lang="html">')[1:]
    assert '<span class="' in first and '<span class="' not in second  # the budget ran out at the second


def test_render_is_rate_limited_per_caller(arena_factory: ArenaFactory) -> None:
    arena = arena_factory(web_chat_token="t", rate_limit_render="3/minute")
    with arena.client(headers={"Authorization": "Bearer t"}) as http:
        for _ in range(3):
            assert http.post("/api/render", json={"markdown": "hi"}).status_code == 200
        refused = http.post("/api/render", json={"markdown": "hi"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"].startswith("Too many render requests: the limit is 3 per 1 minute")


def test_slow_renders_leave_everyone_else_served(arena_factory: ArenaFactory) -> None:
    """Renders ran on Python's default thread pool, which also resolves tokens and sessions: as
    many slow renders as that pool has threads made another user's GET /api/conversations wait
    for them (46 s in the penetration test). Now they have threads of their own."""
    arena = arena_factory(accounts=True, rate_limit_render="off")
    slow = "[a](" * 32_768  # 128 KiB, seconds of CPU: link destinations never closed
    renders = min(32, (os.cpu_count() or 1) + 4)  # the size of the default pool, on any machine
    viewer, other = api_token(arena, "vic"), api_token(arena, "eve")
    statuses: list[int] = []

    def render_slowly() -> None:
        with arena.client(headers={"Authorization": f"Bearer {viewer}"}) as http:
            statuses.append(http.post("/api/render", json={"markdown": slow}).status_code)

    threads = [threading.Thread(target=render_slowly) for _ in range(renders)]
    with arena.client(headers={"Authorization": f"Bearer {other}"}) as http:
        assert http.get("/api/conversations").status_code == 200  # connected and warm
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # the renders are running (or queued) now
        started = time.monotonic()
        response = http.get("/api/conversations")
        waited = time.monotonic() - started
        renders_done_by_then = len(statuses)
    for thread in threads:
        thread.join()
    assert response.status_code == 200
    assert waited < 2, f"another user waited {waited:.1f} s behind {renders} renders"
    assert renders_done_by_then == 0, "the renders ended before the check: make them slower"
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 2  # 503: too many waiting at once


def test_a_stored_answer_over_the_cap_is_shown_as_plain_text() -> None:
    # Conversation views render stored answers directly: past the cap they are escaped, not parsed.
    html = render_markdown("<script>x</script> [a](" * (MAX_MARKDOWN_BYTES // 20))
    assert html.startswith("<pre>&lt;script&gt;x&lt;/script&gt; [a](") and "<script" not in html
