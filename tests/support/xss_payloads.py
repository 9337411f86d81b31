"""A numbered corpus of XSS payloads: each one calls ``__xss(<its number>)`` if it ever runs.

The browser test puts them into model answers, prompts, system prompts, file names and
conversation titles and watches for the marker call (and for alert/confirm/prompt dialogs).
``raw_html_runs`` marks the payloads that do run when inserted as raw HTML into a page with
no Content-Security-Policy: the test's canary inserts them so, to prove the watch would see
an escape. The others need a click, a navigation, an old browser or a templating engine, run
only while a whole document is parsed (``<svg onload>``), or target Markdown and sanitiser
parsing rather than the HTML parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MARKER: Final = "__xss"


@dataclass(frozen=True, kw_only=True)
class Payload:
    number: int
    text: str
    raw_html_runs: bool

    @property
    def call(self) -> str:
        return f"{MARKER}({self.number})"


# (template, runs as raw HTML). "@N" becomes the payload's number.
_TEMPLATES: Final[list[tuple[str, bool]]] = [
    # --- raw HTML with event handlers --------------------------------------------------------
    ("<img src=x onerror=__xss(@N)>", True),
    ('<img src="x" onerror="__xss(@N)">', True),
    ("<IMG SRC=x OnErRoR=__xss(@N)>", True),
    ("<img src=x onerror=&#95;&#95;xss(@N)>", True),
    ("<img src=x onerror=__xss&#40;@N&#41;>", True),
    ('<img/src="x"/onerror="__xss(@N)">', True),
    ("<img src=x onerror=__xss(@N)//", False),
    ('<img srcset=",,,,x" onerror=__xss(@N)>', True),
    ("<image src=x onerror=__xss(@N)>", True),
    ("<svg onload=__xss(@N)>", False),
    ("<svg/onload=__xss(@N)>", False),
    ("<svg><script>__xss(@N)</script></svg>", False),
    ("<svg><animate onbegin=__xss(@N) attributeName=x dur=1s>", True),
    ('<svg><a xlink:href="javascript:__xss(@N)"><text x=20 y=20>tap @N</text></a></svg>', False),
    ("<svg><foreignObject><img src=x onerror=__xss(@N)></foreignObject></svg>", True),
    ("<svg><style><img src=x onerror=__xss(@N)></style></svg>", True),
    ("<body onload=__xss(@N)>", False),
    ("<details open ontoggle=__xss(@N)>", True),
    ("<video><source onerror=__xss(@N)></video>", True),
    ("<video src=x onerror=__xss(@N)></video>", True),
    ("<audio src=x onerror=__xss(@N)></audio>", True),
    ("<input autofocus onfocus=__xss(@N)>", False),
    ("<select autofocus onfocus=__xss(@N)></select>", False),
    ("<textarea autofocus onfocus=__xss(@N)></textarea>", False),
    ("<div contenteditable autofocus onfocus=__xss(@N)>@N</div>", False),
    ("<marquee onstart=__xss(@N)>@N</marquee>", False),
    ("<button onclick=__xss(@N)>press @N</button>", False),
    ("<div onmouseover=__xss(@N)>hover @N</div>", False),
    ("<object data=x onerror=__xss(@N)></object>", True),
    ("<link rel=stylesheet href=x onerror=__xss(@N)>", True),
    ("<style onload=__xss(@N)></style>", True),
    ("<style>@keyframes x@N{}</style><b style=animation-name:x@N onanimationstart=__xss(@N)>@N</b>", True),
    ('<a href="https://example.com" onclick="__xss(@N)">allowed tag @N</a>', False),
    ('<span class="highlight" onmouseover="__xss(@N)">allowed tag @N</span>', False),
    ('<div data-lang="x" onclick="__xss(@N)">allowed attribute @N</div>', False),
    ("<code onfocus=__xss(@N) tabindex=1 autofocus>@N</code>", False),
    # --- scripts, frames, objects, documents inside documents ----------------------------------
    ("<script>__xss(@N)</script>", False),
    ("<scr<script>ipt>__xss(@N)</script>", False),
    ("<script src=data:,__xss(@N)></script>", False),
    ('<iframe srcdoc="<script>parent.__xss(@N)</script>"></iframe>', True),
    ('<iframe srcdoc="&lt;img src=x onerror=parent.__xss(@N)&gt;"></iframe>', True),
    ('<iframe src="javascript:parent.__xss(@N)"></iframe>', True),
    ('<iframe src="data:text/html,<script>parent.__xss(@N)</script>"></iframe>', False),
    ('<object data="javascript:parent.__xss(@N)"></object>', False),
    ('<embed src="javascript:__xss(@N)">', False),
    ("<embed src=\"data:image/svg+xml,<svg onload='__xss(@N)'>\">", False),
    ('<meta http-equiv="refresh" content="0;url=javascript:__xss(@N)">', False),
    ('<base href="javascript:__xss(@N)//">', False),
    ('<form action="javascript:__xss(@N)"><button>send @N</button></form>', False),
    ("<form><button formaction=javascript:__xss(@N)>send @N</button></form>", False),
    ("<isindex type=image src=x onerror=__xss(@N)>", False),
    ("<table background=\"javascript:__xss(@N)\"><tr><td>@N</td></tr></table>", False),
    ("<video poster=javascript:__xss(@N)></video>", False),
    # --- styles ----------------------------------------------------------------------------------
    ("<style>@import 'javascript:__xss(@N)';</style>", False),
    ('<div style="background:url(javascript:__xss(@N))">@N</div>', False),
    ('<div style="width: expression(__xss(@N))">@N</div>', False),
    ("<p style=\"background-image:url('javascript:__xss(@N)')\">@N</p>", False),
    ('<a href="https://example.com" style="position:fixed;inset:0">cover the page @N</a>', False),
    # --- parser differentials (mXSS), raw-text elements, comments, CDATA -------------------------
    ("<math><mtext><table><mglyph><style><img src=x onerror=__xss(@N)>", False),
    ('<math><mi xlink:href="javascript:__xss(@N)">@N</mi></math>', False),
    ("<math><style><img src=x onerror=__xss(@N)></style></math>", True),
    ('<noscript><p title="</noscript><img src=x onerror=__xss(@N)>">', True),
    ("<title><img src=x onerror=__xss(@N)></title>", False),
    ("</title><img src=x onerror=__xss(@N)>", True),
    ("<textarea></textarea><img src=x onerror=__xss(@N)>", True),
    ("</textarea><img src=x onerror=__xss(@N)>", True),
    ("<xmp><img src=x onerror=__xss(@N)></xmp>", False),
    ("<template><img src=x onerror=__xss(@N)></template>", False),
    ("<!--><img src=x onerror=__xss(@N)>-->", True),
    ('<!--<img src="--><img src=x onerror=__xss(@N)>">', True),
    ("<![CDATA[><img src=x onerror=__xss(@N)>]]>", True),
    ("<!-- --><img src=x onerror=__xss(@N)> -->", True),
    ("<?xml ?><img src=x onerror=__xss(@N)>", True),
    # --- Markdown links and images ---------------------------------------------------------------
    ("[tap @N](javascript:__xss(@N))", False),
    ("[tap @N](JaVaScRiPt:__xss(@N))", False),
    ("[tap @N](&#106;avascript:__xss(@N))", False),
    ("[tap @N](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;__xss(@N))", False),
    ("[tap @N](&#0000106&#0000097&#0000118&#0000097script:__xss(@N))", False),
    ("[tap @N](java&#x09;script:__xss(@N))", False),
    ("[tap @N](java&#x0A;script:__xss(@N))", False),
    ("[tap @N](javascript&colon;__xss(@N))", False),
    ("[tap @N](javascript&#58;__xss(@N))", False),
    ("[tap @N](%6A%61%76%61%73%63%72%69%70%74:__xss(@N))", False),
    ("[tap @N](java%09script:__xss(@N))", False),
    ("[tap @N](<javascript:__xss(@N)>)", False),
    ("[tap @N](<java\tscript:__xss(@N)>)", False),
    ("[tap @N](\\javascript:__xss(@N))", False),
    ("[tap @N](javascript://example.com/%0a__xss(@N))", False),
    ("[tap @N](vbscript:__xss(@N))", False),
    ("[tap @N](data:text/html,%3Cscript%3Eparent.__xss(@N)%3C/script%3E)", False),
    ("[tap @N](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3MoMSk8L3NjcmlwdD4=)", False),
    ("![picture @N](javascript:__xss(@N))", False),
    ('![picture @N](x"onerror="__xss(@N))', False),
    ("![picture @N](data:image/svg+xml,%3Csvg%20onload=__xss(@N)%3E)", False),
    ('![picture @N](https://example.com/a.png "t\\" onerror=\\"__xss(@N)")', False),
    ("[tap @N][ref@N]\n\n[ref@N]: javascript:__xss(@N)", False),
    ('[tap @N][ref@N]\n\n[ref@N]: <JavaScript:__xss(@N)> "title @N"', False),
    ("![picture @N][img@N]\n\n[img@N]: javascript:__xss(@N)", False),
    ("<javascript:__xss(@N)>", False),
    ("<JAVASCRIPT:__xss(@N)>", False),
    ("<vbscript:__xss(@N)>", False),
    ("<data:text/html,%3Cscript%3Eparent.__xss(@N)%3C/script%3E>", False),
    ('[tap @N](https://example.com "title\\" onmouseover=\\"__xss(@N)")', False),
    ('[tap @N](https://example.com/"onmouseover="__xss(@N))', False),
    ("[tap @N](https://example.com'onmouseover='__xss(@N))", False),
    ('[" onmouseover="__xss(@N)](https://example.com)', False),
    ('[tap @N](mailto:a@example.com?subject="><img src=x onerror=__xss(@N)>)', True),
    ("[<img src=x onerror=__xss(@N)>](https://example.com)", True),
    ("**<img src=x onerror=__xss(@N)>** _<svg onload=__xss(@N)>_", True),
    ("> <svg onload=__xss(@N)>\n> quoted @N", False),
    ("| <img src=x onerror=__xss(@N)> | b@N |\n|:-:|--:|\n| [c](javascript:__xss(@N)) | d |", True),
    ("- [ ] <input type=checkbox autofocus onfocus=__xss(@N)> item @N", False),
    # --- code that must stay code ----------------------------------------------------------------
    ("```html\n<script>__xss(@N)</script>\n```", False),
    ("```js\n</code></pre><img src=x onerror=__xss(@N)>\n```", True),
    ("```<img src=x onerror=__xss(@N)>\ncode @N\n```", True),
    ('```" onmouseover="__xss(@N)\ncode @N\n```', False),
    ("`<img src=x onerror=__xss(@N)>`", True),
    ("``</code><script>__xss(@N)</script>``", False),
    ("    <svg onload=__xss(@N)>", False),
    # --- attribute and context breaks ------------------------------------------------------------
    ('" onmouseover="__xss(@N)" x="', False),
    ("' onmouseover='__xss(@N)' x='", False),
    ("'><script>__xss(@N)</script>", False),
    ('"><img src=x onerror=__xss(@N)>', True),
    ("</span><img src=x onerror=__xss(@N)>", True),
    ("</script><img src=x onerror=__xss(@N)>", True),
    ("--><img src=x onerror=__xss(@N)>", True),
    ("]]><img src=x onerror=__xss(@N)>", True),
    ("</style><img src=x onerror=__xss(@N)>", True),
    ('\\"><img src=x onerror=__xss(@N)>', True),
    ("';__xss(@N);//", False),
    ('";__xss(@N);//', False),
    ("`-__xss(@N)-`", False),
    ('{"__proto__": {"html": "<img src=x onerror=__xss(@N)>"}}', True),
    # --- unicode and zero-width tricks -----------------------------------------------------------
    ("[tap @N](java\u200bscript:__xss(@N))", False),
    ("[tap @N](\u00a0javascript:__xss(@N))", False),
    ("[tap @N](\u2028javascript:__xss(@N))", False),
    ("\uff1cimg src=x onerror=__xss(@N)\uff1e", False),
    ("<img src=x onerror\u200b=__xss(@N)>", False),
    ("\u202e>gmi/< <img src=x onerror=__xss(@N)>", True),
    ("<img src=x onerror=\u0022__xss(@N)\u0022>", True),
    ("%3Cimg%20src%3Dx%20onerror%3D__xss(@N)%3E", False),
    ("&lt;img src=x onerror=__xss(@N)&gt;", False),
    ("\\u003cimg src=x onerror=__xss(@N)\\u003e", False),
    # --- template-ish strings --------------------------------------------------------------------
    ("{{constructor.constructor('__xss(@N)')()}}", False),
    ("${__xss(@N)}", False),
    ("#{__xss(@N)}", False),
    ("<%= __xss(@N) %>", False),
    ("[[__xss(@N)]]", False),
    ("{{'a'.constructor.prototype.charAt=[].join;$eval('x=__xss(@N)');}}", False),
    # --- dialogs, the classic proof ----------------------------------------------------------------
    ("<img src=x onerror=alert(@N)>", True),
    ("<details open ontoggle=confirm(@N)>", True),
    ("[tap @N](javascript:prompt(@N))", False),
]

PAYLOADS: Final[list[Payload]] = [
    Payload(number=number, text=template.replace("@N", str(number)), raw_html_runs=runs)
    for number, (template, runs) in enumerate(_TEMPLATES, start=1)
]


def batches(size: int) -> list[list[Payload]]:
    """The corpus in consecutive groups of `size` (the last may be shorter)."""
    return [PAYLOADS[start : start + size] for start in range(0, len(PAYLOADS), size)]
