"""Markdown to safe HTML, on the server: markdown-it-py, then Pygments, then an nh3 allow-list.

Model answers are untrusted text. Three layers keep them inert in the browser:
markdown-it runs with raw HTML off (any tag in the text comes out escaped, as text), its
link check refuses ``javascript:``-like URLs, and nh3 finally keeps only the tags and
attributes listed here, links only to http(s) and mailto, no event handlers and no inline
styles (table alignment is a class). Images become plain links: a remote image would tell
its server that someone read the answer, and this is a private, local tool.

Rendering is pure-Python CPU work that some inputs make slow (a paragraph of 64 KiB of ``[``
takes seconds) or large (Pygments wraps each token of a code block in a span), so it is bounded:
texts over ``MAX_MARKDOWN_BYTES`` are not parsed (POST /api/render answers 413; a stored answer
that long is shown as plain text), Pygments colours at most ``HIGHLIGHT_BUDGET`` characters of
code per text (the rest is escaped, about 6 bytes out per byte in at worst), the cache is bounded
in bytes, not entries, and ``render_markdown_async`` runs on its own ``RENDER_THREADS`` threads, so
renders can never fill the thread pool that token checks and database reads wait on.
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Final

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

# Answers run to a few tens of KB (32k tokens is about 130 KB); 256 KiB leaves room for the
# longest while a worst-case text still renders in seconds, not minutes.
MAX_MARKDOWN_BYTES: Final = 256 * 1024
HIGHLIGHT_BUDGET: Final = 64 * 1024  # characters of code per text; Pygments' output is up to ~20x
MAX_NESTING: Final = 20  # markdown-it's own bound on nested blocks (its commonmark default), kept explicit
RENDER_THREADS: Final = 2  # the GIL runs one at a time anyway; two keep a short render from queueing behind a long one
RENDER_QUEUE: Final = 16  # renders running or waiting for a thread; past it the caller is told to retry
CACHE_CHARS: Final = 32 * 1024 * 1024  # markdown and HTML together, over every cached text
LIGHT_STYLE: Final = "default"
DARK_STYLE: Final = "github-dark"
LINK_SCHEMES: Final = ("http://", "https://", "mailto:")
_LANG_SAFE = re.compile(r"[^A-Za-z0-9_+#.-]")

ALLOWED_TAGS: Final = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "div", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "ol": {"start"},
    "div": {"data-lang"},
}
# Table alignment travels as a class: the page's CSP (style-src 'self') refuses inline styles.
ALIGN_CLASSES: Final = {"align-left", "align-center", "align-right"}
# nh3 wants ``class`` here and not in ALLOWED_ATTRIBUTES: only our own highlighting classes pass.
ALLOWED_CLASSES: Final = {
    "div": {"highlight"},
    "span": {cls for cls in STANDARD_TYPES.values() if cls},
    "th": ALIGN_CLASSES,
    "td": ALIGN_CLASSES,
}

_FORMATTER = HtmlFormatter(nowrap=True)


def _lexer(lang: str) -> Any:
    if not lang:
        return None
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight_code(code: str, lang: str, *, colour: bool = True) -> str:
    """A code block as ``<div class="highlight"><pre><code>`` with Pygments' class-based spans
    (none when `colour` is False: the text is only escaped)."""
    lang = _LANG_SAFE.sub("", lang)[:40]
    lexer = _lexer(lang) if colour else None
    body = highlight(code, lexer, _FORMATTER) if lexer is not None else html.escape(code)
    data_lang = f' data-lang="{lang}"' if lang else ""
    return f'<div class="highlight"{data_lang}><pre><code>{body}</code></pre></div>\n'


def _spend_highlight(env: Any, code: str) -> bool:
    """Whether this block may still be coloured: each text gets HIGHLIGHT_BUDGET characters."""
    left = env.get("highlight_left", HIGHLIGHT_BUDGET)
    env["highlight_left"] = left - len(code)
    return len(code) <= left


def _render_fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.info else ""
    lang = info.split(maxsplit=1)[0] if info else ""
    return highlight_code(token.content, lang, colour=_spend_highlight(env, token.content))


def _render_code_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return highlight_code(tokens[idx].content, "")  # no language: never coloured


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    return f'<a href="{html.escape(src)}">{html.escape(alt or src)}</a>'


def _align_as_class(state: StateCore) -> None:
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs.get("style"):
            token.attrSet("class", "align-" + str(token.attrs.pop("style")).removeprefix("text-align:"))


def _parser() -> MarkdownIt:
    # "html": False is what turns <script> in an answer into visible text.
    md = MarkdownIt(
        "commonmark",
        {"html": False, "breaks": True, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING},
    )
    md.enable(["table", "strikethrough"])
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("image", _render_image)
    md.core.ruler.push("align_as_class", _align_as_class)
    return md


_MD: Final = _parser()


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        # Only absolute web and mail links; relative ones would point into the arena itself.
        return value if value.strip().lower().startswith(LINK_SCHEMES) else None
    return value


class _RenderCache:
    """The HTML of recent texts, bounded by size: 1,024 entries of 256 KiB and their HTML were gigabytes."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._items: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()  # renders run on several threads

    def get(self, text: str) -> str | None:
        with self._lock:
            found = self._items.get(text)
            if found is not None:
                self._items.move_to_end(text)
            return found

    def put(self, text: str, rendered: str) -> None:
        size = len(text) + len(rendered)
        with self._lock:
            if text in self._items or size > self.max_chars // 16:
                return
            self._items[text] = rendered
            self._chars += size
            while self._chars > self.max_chars:
                old_text, old_html = self._items.popitem(last=False)
                self._chars -= len(old_text) + len(old_html)


_CACHE: Final = _RenderCache(CACHE_CHARS)
_POOL: Final = ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="arena-render")
_QUEUE: Final = threading.BoundedSemaphore(RENDER_QUEUE)  # a semaphore: apps in one process may run several loops


class RendererBusy(RuntimeError):
    """RENDER_QUEUE renders are already running or waiting."""


def too_long(text: str) -> bool:
    """Over MAX_MARKDOWN_BYTES (UTF-8): not parsed as Markdown."""
    return len(text) > MAX_MARKDOWN_BYTES or len(text.encode()) > MAX_MARKDOWN_BYTES


def render_markdown(text: str) -> str:
    """Safe HTML for a Markdown text (cached: finished answers are rendered on every read)."""
    if not text.strip():
        return ""
    if too_long(text):
        return f"<pre>{html.escape(text)}</pre>"  # too long to parse in bounded time: shown as written
    cached = _CACHE.get(text)
    if cached is None:
        cached = _render(text)
        _CACHE.put(text, cached)
    return cached


async def render_markdown_async(text: str) -> str:
    """`render_markdown` on the renderer's own threads, never on the shared default pool;
    RendererBusy rather than an ever longer queue."""
    if not _QUEUE.acquire(blocking=False):
        raise RendererBusy(f"{RENDER_QUEUE} Markdown renders are running or waiting")
    try:
        return await asyncio.get_running_loop().run_in_executor(_POOL, render_markdown, text)
    finally:
        _QUEUE.release()


def _render(text: str) -> str:
    return nh3.clean(
        _MD.render(text, {}),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        attribute_filter=_keep_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    ).strip()


@lru_cache(maxsize=1)
def highlight_css() -> str:
    """Pygments colours: light by default, dark under ``data-theme="dark"`` or a dark system theme."""
    light = HtmlFormatter(style=LIGHT_STYLE)
    dark = HtmlFormatter(style=DARK_STYLE)

    def rules(formatter: HtmlFormatter, scope: str) -> str:
        selector = f"{scope} .highlight".strip()
        return "\n".join(
            [*formatter.get_background_style_defs(selector), *formatter.get_token_style_defs(selector)]
        )

    return "\n".join(
        [
            "/* Code highlighting (Pygments): light, then dark. */",
            rules(light, ""),
            rules(dark, ':root[data-theme="dark"]'),
            "@media (prefers-color-scheme: dark) {",
            rules(dark, ':root:not([data-theme="light"])'),
            "}",
            "",
        ]
    )
