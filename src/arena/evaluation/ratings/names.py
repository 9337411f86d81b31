"""Readable names for the contestants of a leaderboard: the model, plus the settings that tell
its instances apart ("smollm2-135m-instruct · temp 1.0 · top_p 0.9"), instead of raw ids.

Names are made for one board at a time: the engine prefix is dropped where no other model on
the board has the same bare name, and an instance shows only the settings in which it differs
from another instance of its model on the board. The API, the page, the CLI and the bench
report all name contestants through ``display_names``; the raw id stays the key everywhere.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from arena.storage.models import SAMPLING_FIELDS

SEPARATOR: Final = " · "
# How a setting reads in a name: short, and the same words the arena's chips use where it can.
SETTING_LABELS: Final = {
    "temperature": "temp",
    "top_p": "top_p",
    "top_k": "top_k",
    "repeat_penalty": "repeat",
    "num_predict": "max_tokens",
    "seed": "seed",
}
# Values that mean "none" read as words.
_SPECIAL_VALUES: Final = {("num_predict", "-1"): "unlimited", ("seed", "0"): "random"}


@dataclass(frozen=True, kw_only=True)
class Contestant:
    """One side of the board's battles: a model, or a model at its six settings."""

    key: str  # the id battles are keyed by: a model id, or an instance id
    model: str
    settings: Mapping[str, str] = field(default_factory=dict)  # empty for a model


def read_instance_id(instance_id: str) -> Contestant | None:
    """The model and settings an instance id spells (the inverse of
    ``conversation.instances.instance_id``); None when the id is not one.

    The settings are the last six `_`-separated fields after `__`; the model part keeps letters,
    digits, `.` and `-`, writes `:` as `_` and every other byte as `~XX`. A model too long to
    spell ends with `~~` and a hash: its readable head is kept, with `…`.
    """
    spelled, sep, tail = instance_id.rpartition("__")
    values = tail.split("_")
    if not sep or not spelled or len(values) != len(SAMPLING_FIELDS) or not all(values):
        return None
    hashed = "~~" in spelled
    if hashed:
        spelled = spelled.split("~~", 1)[0]
    model = _unspell(spelled, partial=hashed)
    if model is None:
        return None
    settings = dict(zip(SAMPLING_FIELDS, values, strict=True))
    return Contestant(key=instance_id, model=model + ("…" if hashed else ""), settings=settings)


def _unspell(spelled: str, *, partial: bool) -> str | None:
    out = bytearray()
    index = 0
    while index < len(spelled):
        ch = spelled[index]
        if ch == "~":
            pair = spelled[index + 1 : index + 3]
            if len(pair) < 2 and partial:
                break  # a head cut inside an escape
            try:
                out.append(int(pair, 16))
            except ValueError:
                return None
            index += 3
        else:
            out += b":" if ch == "_" else ch.encode("utf-8")
            index += 1
    try:
        return out.decode("utf-8", errors="ignore" if partial else "strict")
    except UnicodeDecodeError:
        return None


def contestants(keys: Sequence[str], *, unit: str) -> list[Contestant]:
    """The board's keys read as contestants: instance ids are spelled back into model and
    settings; a key that is no instance id (or any key, rated by model) stands for itself."""
    found = []
    for key in keys:
        read = read_instance_id(key) if unit == "instance" else None
        found.append(read or Contestant(key=key, model=key))
    return found


def bare_model_name(model: str) -> str:
    """`local:x` → `x`, `ollama:llama3:8b` → `llama3:8b`, `openai:<endpoint>/m` → `m`."""
    kind, sep, rest = model.partition(":")
    if not sep or kind not in ("local", "ollama", "openai") or not rest:
        return model
    if kind == "openai":
        rest = rest.partition("/")[2] or rest
    return rest


def display_names(board: Sequence[Contestant]) -> dict[str, str]:
    """key → a name that tells it apart from every other contestant on this board."""
    models = sorted({c.model for c in board})
    bare = {model: bare_model_name(model) for model in models}
    clashes = Counter(bare.values())
    shown_model = {model: bare[model] if clashes[bare[model]] == 1 else model for model in models}

    by_model: dict[str, list[Contestant]] = defaultdict(list)
    for contestant in board:
        by_model[contestant.model].append(contestant)
    names: dict[str, str] = {}
    for model, group in by_model.items():
        varying = [name for name in SAMPLING_FIELDS if len({c.settings.get(name) for c in group}) > 1]
        for contestant in group:
            parts = [shown_model[model]]
            parts += [_setting(name, contestant.settings.get(name)) for name in varying]
            names[contestant.key] = SEPARATOR.join(parts)
    if len(set(names.values())) != len(names):  # only ids that are not what they seem get here
        return {c.key: c.key for c in board}
    return names


def names_for(keys: Sequence[str], *, unit: str) -> dict[str, str]:
    """Display names for a board's keys (model ids, or instance ids when rated by instance)."""
    return display_names(contestants(keys, unit=unit))


def _setting(name: str, value: str | None) -> str:
    shown = "?" if value is None else _SPECIAL_VALUES.get((name, value), value)
    return f"{SETTING_LABELS[name]} {shown}"
