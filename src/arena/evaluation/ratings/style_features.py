"""An answer's style, the covariates of style control: its length and its markdown.

Pure: text in, four counts out, so whatever stores or caches them (the leaderboard's on-read
cache, a per-battle table) calls the same function. Markdown is counted the way Chatbot Arena
counts it, with patterns over lines rather than a full parse (a parse costs ~50x as much, and
style control reads every answer): fenced code blocks are dropped first, so a ``#`` comment
or a ``- x`` line inside code counts as neither a header nor a list item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# The names and order of the covariates everywhere (fit, API, CLI, page).
STYLE_NAMES: Final = ("length", "headers", "lists", "bold")

_FENCED_CODE = re.compile(r"^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)
_HEADER = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]|$)", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*(?=\S)(?:[^*\n]|\*(?!\*))+?(?<=\S)\*\*|__(?=\S)[^_\n]+?(?<=\S)__")


@dataclass(frozen=True, kw_only=True, slots=True)
class StyleFeatures:
    """One answer's style: characters, markdown headers, list items and bold spans."""

    length: int
    headers: int
    lists: int
    bold: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.length, self.headers, self.lists, self.bold)


def style_features(text: str) -> StyleFeatures:
    """Count an answer's style covariates; code in fenced blocks is length but never markdown."""
    prose = _FENCED_CODE.sub("", text)
    return StyleFeatures(
        length=len(text),
        headers=len(_HEADER.findall(prose)),
        lists=len(_LIST_ITEM.findall(prose)),
        bold=len(_BOLD.findall(prose)),
    )
