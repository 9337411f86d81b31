"""A promptfoo config's YAML: errors that name the line and the key path, and a size limit that
holds however many times an anchor is reused."""

from __future__ import annotations

from typing import Final

import yaml

from arena.errors import InvalidInput

MAX_NODES: Final = 200_000  # YAML nodes with aliases followed: anchors may share, never explode

KeyPath = list[str | int]


class Located:
    """Key paths to line numbers, from the YAML's node tree: 'tests[2].assert[0].type' → 7."""

    def __init__(self, node: yaml.Node | None, filename: str) -> None:
        self.node, self.filename = node, filename

    def line(self, path: KeyPath) -> int | None:
        node, line = self.node, None
        for key in path:
            if isinstance(node, yaml.MappingNode):
                match = next((pair for pair in node.value if pair[0].value == key), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def error(self, path: KeyPath, problem: str) -> InvalidInput:
        line = self.line(path)
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")
        at = f"line {line}: " if line else ""
        return InvalidInput(f"{self.filename}: {at}{where}: {problem}" if where else f"{self.filename}: {at}{problem}")



def check_size(node: yaml.Node | None, at: Located) -> None:
    """Refuse a document whose aliases expand past MAX_NODES (a "billion laughs"), before
    anything walks or prints it."""
    stack, seen = [node], 0
    while stack:
        current = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise at.error([], f"more than {MAX_NODES} YAML values once anchors are expanded")
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(value for pair in current.value for value in pair)


