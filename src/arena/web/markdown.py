"""Markdown to safe HTML, on the server: markdown-it-py, then Pygments, then an nh3 allow-list.

Model answers are untrusted text. Three layers keep them inert in the browser:
markdown-it runs with raw HTML off (any tag in the text comes out escaped, as text), its
link check refuses ``javascript:``-like URLs, and nh3 finally keeps only the tags and
attributes listed here, links only to http(s) and mailto, no event handlers and no inline
styles (table alignment is a class). Images become plain links: a remote image would tell
its server that someone read the answer, and this is a private, local tool.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
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


def highlight_code(code: str, lang: str) -> str:
    """A code block as ``<div class="highlight"><pre><code>`` with Pygments' class-based spans."""
    lang = _LANG_SAFE.sub("", lang)[:40]
    lexer = _lexer(lang)
    body = highlight(code, lexer, _FORMATTER) if lexer is not None else html.escape(code)
    data_lang = f' data-lang="{lang}"' if lang else ""
    return f'<div class="highlight"{data_lang}><pre><code>{body}</code></pre></div>\n'


def _render_fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.info else ""
    return highlight_code(token.content, info.split(maxsplit=1)[0] if info else "")


def _render_code_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return highlight_code(tokens[idx].content, "")


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
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
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


@lru_cache(maxsize=1024)
def render_markdown(text: str) -> str:
    """Safe HTML for a Markdown text (cached: finished answers are rendered on every read)."""
    if not text.strip():
        return ""
    return nh3.clean(
        _MD.render(text),
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
