"""What a user name may be: checked whole, so a control character at the end cannot slip in."""

from __future__ import annotations

import pytest

from arena.errors import InvalidInput
from arena.storage.accounts import check_username


@pytest.mark.parametrize("name", ["eve", "Eve.Smith", "eve@example.org", "a-b_c", "7"])
def test_ordinary_names_are_accepted(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["eve\n", "eve\r", "eve ", "-eve", "", "e" * 65, "eve\u202e", "ｅｖｅ\n"])
def test_names_with_anything_else_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="username must be"):
        check_username(name)
