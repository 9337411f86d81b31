"""promptfoo's `{{var}}` prompts: Nunjucks substitution of plain variables, nothing more (pure).

Filters, tags and expressions (`{{ x | upper }}`, `{% if %}`) are refused with the place named:
rendering them would need Nunjucks itself, and a template is someone else's text, not code to run.
As Nunjucks does, a variable the test does not set renders as nothing, a list as JavaScript joins
it (``a,b``) and an object as ``[object Object]``. ``render_prompt`` is promptfoo's renderPrompt:
vars that name other vars (``{{other}}``) are filled in first, and a prompt that is JSON (a chat)
has the vars rendered inside its strings, so a quote or newline in a value stays valid JSON.
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


def render_prompt(template: str, variables: dict[str, Any]) -> str:
    """A prompt as promptfoo 0.121's renderPrompt renders it (src/evaluatorHelpers.ts)."""
    variables = {k: v.removesuffix("\n") if isinstance(v, str) else v for k, v in variables.items()}
    _resolve(variables)
    try:
        parsed = json.loads(template)
    except ValueError:
        pass
    else:  # JSON.stringify(renderVarsInObject(JSON.parse(prompt), vars), null, 2)
        return json.dumps(_render_object(parsed, variables), ensure_ascii=False, indent=2)
    rendered = {
        name: value if not isinstance(value, str) or _undefined(value, variables) else render(value, variables)
        for name, value in variables.items()
    }
    return render(template, rendered)


def _render_object(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [_render_object(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render_object(v, variables) for k, v in value.items()}
    return value


SIMPLE: Final = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _resolve(variables: dict[str, Any]) -> None:
    """promptfoo's resolveVariables: `{{other}}` in a var's value replaced by that var, up to 5 rounds."""
    for _round in range(5):
        resolved = True
        for name, value in variables.items():
            match = SIMPLE.search(value) if isinstance(value, str) else None
            if match and match.group(1) in variables:
                variables[name] = value.replace(match.group(0), as_text(variables[match.group(1)]), 1)
                resolved = False
        if resolved:
            return


def _undefined(value: str, variables: dict[str, Any]) -> bool:
    """promptfoo leaves a var naming a var the test does not set as it is, rather than blanking it."""
    return any(
        (plain := PLAIN.fullmatch(m.group(1))) is not None and plain.group(1).split(".")[0] not in variables
        for m in PLACEHOLDER.finditer(value)
    )


def as_text(value: Any) -> str:
    """A variable as Nunjucks prints it: JavaScript's String()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):  # Array.prototype.join: null and undefined print as nothing
        return ",".join(as_text(v) for v in value)
    return str(value)
