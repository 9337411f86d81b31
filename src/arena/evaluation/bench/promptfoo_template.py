"""promptfoo's `{{var}}` prompts: Nunjucks substitution of plain variables, nothing more (pure).

Filters, tags and expressions (`{{ x | upper }}`, `{% if %}`) are refused with the place named:
rendering them would need Nunjucks itself, and a template is someone else's text, not code to run.
As Nunjucks does, a variable the test does not set renders as nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from arena.errors import InvalidInput

PLACEHOLDER: Final = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
PLAIN: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*")


def check_template(text: str, *, where: str) -> list[str]:
    """The variables a template uses; InvalidInput for anything beyond plain `{{name}}`."""
    for tag in ("{%", "{#"):
        if tag in text:
            raise InvalidInput(f"{where}: Nunjucks tags and comments ({tag} …) are not supported; use plain {{{{var}}}}")
    names = []
    for match in PLACEHOLDER.finditer(text):
        plain = PLAIN.fullmatch(match.group(1))
        if plain is None:
            raise InvalidInput(
                f"{where}: {match.group(0)!r}: only plain variables are supported (no filters, calls or expressions)"
            )
        names.append(plain.group(1))
    return names


def render(text: str, variables: dict[str, Any]) -> str:
    """Substitute `{{name}}` (and `{{a.b}}` into a mapping); check_template has vetted the text."""

    def value(match: re.Match[str]) -> str:
        plain = PLAIN.fullmatch(match.group(1))
        if plain is None:  # not vetted (cannot happen for prompts): left as written
            return match.group(0)
        current: Any = variables
        for part in plain.group(1).split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return as_text(current)

    return PLACEHOLDER.sub(value, text)


def as_text(value: Any) -> str:
    """A variable as Nunjucks prints it (JavaScript's String()), objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
