"""Markdown rendered on the server is safe to put into the page, and code is highlighted."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

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
