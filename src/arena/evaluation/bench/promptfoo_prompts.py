"""A promptfoo config's prompts: the templates it lists, and what one rendered prompt says.

A prompt is a string, ``{raw, label}``, or a ``file://`` file (or glob, read sorted) next to the
config: text files (``.txt`` prompts separated by a line of ``---``), or a chat-format file (``.json``
is one prompt, ``.jsonl`` one per line, ``.yaml``/``.yml`` a list of messages). Unlabelled prompts
get promptfoo's labels (``prompts/a.txt: <text>``, a string's own text), so report rows differ. A rendered prompt that is a JSON
(or ``- role:`` YAML) list of messages is a chat, as promptfoo's OpenAI provider reads it: its
system messages, the fixed messages before the last user message (few-shot examples), and that
last user message, which is the turn the model answers.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from arena.errors import InvalidInput
from arena.evaluation.bench.promptfoo_template import check_template
from arena.evaluation.bench.promptfoo_yaml import KeyPath, Located

TEXT_SUFFIXES: Final = (".txt", ".md", ".j2", ".nunjucks")
CHAT_SUFFIXES: Final = (".json", ".jsonl", ".yaml", ".yml")
PROMPT_KEYS: Final = frozenset({"raw", "label", "id"})
ROLES: Final = frozenset({"system", "developer", "user", "assistant"})


@dataclass(frozen=True)
class Chat:
    """One rendered prompt as the messages a model sees."""

    turn: str  # the last user message
    system: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)  # fixed user/assistant messages before it


def read_prompts(raw: Any, at: Located, base_dir: Path | None) -> tuple[list[tuple[str, str]], bytes]:
    """(label, template) per prompt, and the bytes of the files read (part of the set's digest)."""
    if raw is None:
        raise at.error(["prompts"], "missing: give at least one prompt")
    entries = raw if isinstance(raw, list) else [raw]
    prompts: list[tuple[str, str]] = []
    read = b""
    for index, entry in enumerate(entries):
        where: KeyPath = ["prompts", index] if isinstance(raw, list) else ["prompts"]
        label = None
        if isinstance(entry, dict):
            for key in entry:
                if key not in PROMPT_KEYS:
                    what = "per-prompt provider settings are not supported" if key == "config" else "not supported"
                    raise at.error([*where, key], f"{what} (a prompt has raw and label)")
            label = entry.get("label") or entry.get("id")
            entry = entry.get("raw", entry.get("id"))
        if not isinstance(entry, str) or not entry.strip():
            raise at.error(where, "a prompt is a non-empty string, a file:// path, or {raw: …, label: …}")
        if entry.startswith("file://"):
            for name in _matches(entry, at, where, base_dir):
                labelled, data = _prompt_file(name, label, at, where, base_dir)
                read += data
                prompts += labelled
            continue
        prompts.append((label or entry, entry))
    for index, (_label, text) in enumerate(prompts):
        try:
            check_template(text, where="template")
        except InvalidInput as exc:
            raise at.error(["prompts", min(index, len(entries) - 1)], str(exc).removeprefix("template: ")) from None
    return prompts, read


def _matches(entry: str, at: Located, where: KeyPath, base_dir: Path | None) -> list[str]:
    """The files a `file://` prompt names, relative to the config: a glob's matches sorted."""
    name = entry.removeprefix("file://")
    if base_dir is None:
        raise at.error(
            where,
            "file:// prompts are read next to a config file: run `arena bench run promptfooconfig.yaml`, or "
            "put the prompt in the config",
        )
    if not glob.has_magic(name):
        return [name]
    root = base_dir.resolve()
    found = sorted(
        Path(match).as_posix()
        for match in glob.glob(name, root_dir=root, recursive=True)
        if (root / match).is_file()
    )
    if not found:
        raise at.error(where, f"no prompt file matches {name!r}")
    return found


def _prompt_file(
    name: str, label: str | None, at: Located, where: KeyPath, base_dir: Path
) -> tuple[list[tuple[str, str]], bytes]:
    """(label, template) per prompt in one file, labelled as promptfoo labels them."""
    suffix = Path(name).suffix.lower()
    if suffix not in TEXT_SUFFIXES + CHAT_SUFFIXES:
        raise at.error(
            where, f"prompt files are text ({', '.join(TEXT_SUFFIXES)}) or chat ({', '.join(CHAT_SUFFIXES)}); "
            "scripts never run"
        )  # fmt: skip
    file = (base_dir / name).resolve()
    if not file.is_file():
        raise at.error(where, f"prompt file not found: {file}")
    data = file.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise at.error(where, f"{file.name}: not valid UTF-8") from None
    if suffix == ".txt":  # promptfoo: several prompts separated by a line that is --- (spaces aside)
        parts, buffer = [], []
        for line in [*re.split(r"\r?\n", text), "---"]:
            if line.strip() == "---":
                parts.append("\n".join(buffer).strip())
                buffer = []
            else:
                buffer.append(line)
        return [(f"{label}: {name}: {p}" if label else f"{name}: {p}", p) for p in parts if p], data
    if suffix == ".jsonl":
        lines = [line for line in re.split(r"\r?\n", text) if line]
        several = len(lines) > 1
        return [(f"{label or name}: {line}" if several else label or name, line.strip()) for line in lines], data
    if suffix in (".yaml", ".yml", ".json"):
        # promptfoo reads the file and sends JSON.stringify of it: compact, whatever its layout.
        try:
            loaded = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise at.error(where, f"{file.name}: not valid {suffix[1:].upper()} ({exc})") from None
        compact = json.dumps(loaded, ensure_ascii=False, separators=(",", ":"))
        shown = compact if suffix == ".json" else compact[:80]
        return [(label or f"{name}: {shown}", compact)], data
    return ([(label or f"{name}: {text[:50]}...", text.strip())] if text.strip() else []), data


def chat_of(text: str, at: Located, where: KeyPath) -> Chat:
    """A rendered prompt as promptfoo's OpenAI provider sends it: a list of messages when it
    parses as one, otherwise the whole text as the user's message."""
    stripped = text.strip()
    try:
        parsed = yaml.safe_load(text) if stripped.startswith("- role:") else json.loads(text)
    except (yaml.YAMLError, ValueError):
        if _looks_like_json(stripped):
            raise at.error(where, "looks like a chat-format (JSON) prompt but is not valid JSON once rendered") from None
        return Chat(turn=text)
    if not isinstance(parsed, list) or not parsed or not all(isinstance(m, dict) and "role" in m for m in parsed):
        return Chat(turn=text)
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for number, message in enumerate(parsed):
        role, content = message.get("role"), _content(message.get("content"))
        if role not in ROLES or content is None:
            raise at.error(
                where, f"message {number + 1}: a chat prompt's messages have a role ({', '.join(sorted(ROLES))}) "
                "and text content"
            )  # fmt: skip
        if role in ("system", "developer"):
            system.append(content)
        else:
            turns.append({"role": str(role), "content": content})
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise at.error(where, "a chat prompt must end with a non-empty user message: that is what the model answers")
    return Chat(turn=turns[-1]["content"], system="\n\n".join(system) or None, history=turns[:-1])


def _content(value: Any) -> str | None:
    """A message's text: a string, or OpenAI content parts that are all text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(p, dict) and p.get("type") == "text" for p in value):
        return "".join(str(part.get("text", "")) for part in value)
    return None


def _looks_like_json(text: str) -> bool:
    """promptfoo's test: "[INST] … [/INST]" is text, '[{"role"' is broken JSON."""
    if text.startswith("{") and text.endswith("}"):
        return True
    if not (text.startswith("[") and text.endswith("]")):
        return False
    after = text[1:].lstrip()
    return not after or after[0] in '"{[-0123456789' or after.startswith(("true", "false", "null"))
