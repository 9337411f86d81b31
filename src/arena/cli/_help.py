"""`--help` output without a type after flags: Typer ≥ 0.2x prints `<bool>` after every flag
(`--help <bool>`, `--quiet <bool>`), which reads as if the flag took a value. A flag takes none,
so its type column is left empty; every other option keeps its type (`<int>`, `<path>`)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_typed = TyperOption.display_type_rich


def _flag_has_no_type(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _typed(self, ctx)


def drop_flag_types() -> None:
    TyperOption.display_type_rich = _flag_has_no_type  # type: ignore[method-assign]
