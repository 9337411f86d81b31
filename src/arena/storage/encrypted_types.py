"""Column types that encrypt on the way in and decrypt on the way out (see ``crypto.py``).

The keyring travels on the engine's dialect (``use_keyring``), so two databases in one process
may use different keys, and with none every value is stored as plaintext. The column types stay
TEXT / VARCHAR / JSON, so turning encryption on needs no migration of its own: old plaintext
rows keep reading, and ``arena db rekey`` encrypts them.

An encrypted column cannot be compared in SQL (each encryption of a value differs): filter
such columns in Python after reading them, as ``repository.list_conversations`` (titles) and
``battle_signals.battle_signals`` (judge keys) do.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Dialect, String, Text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from arena.storage.crypto import Keyring, decrypt

_ATTRIBUTE = "arena_keyring"


def use_keyring(engine: Engine, keyring: Keyring | None) -> None:
    """Encrypt what ``engine`` writes with ``keyring`` (None: plaintext)."""
    setattr(engine.dialect, _ATTRIBUTE, keyring)


def keyring_of(dialect: Dialect) -> Keyring | None:
    return getattr(dialect, _ATTRIBUTE, None)


def encrypts(session: Session) -> bool:
    """Whether this session's database writes encrypted values (so SQL cannot search them)."""
    return keyring_of(session.get_bind().dialect) is not None


class EncryptedText(TypeDecorator[str]):
    """Text that is stored encrypted when a key is configured. ``context`` ("table.column") is
    bound to each ciphertext: never change it for an existing column."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        return keyring.encrypt(value, context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value, keyring_of(dialect), context=self.context)


class EncryptedString(EncryptedText):
    """A length-limited string (the storage functions check the length) that may be stored encrypted.

    The column stays VARCHAR(length) on SQLite, which ignores lengths; on PostgreSQL it is TEXT
    (migration 0006) because a ciphertext is longer than the text it hides.
    """

    impl = String
    cache_ok = True

    def __init__(self, context: str, length: int) -> None:
        TypeDecorator.__init__(self, length)
        self.context = context
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # Not through dialect.type_descriptor(): PostgreSQL would adapt Text to a length-less VARCHAR.
        return Text() if dialect.name == "postgresql" else String(self.length)


class EncryptedJSON(TypeDecorator[Any]):
    """JSON whose document is stored as one encrypted JSON string when a key is configured;
    a plaintext document (a list or an object) from before still reads as it is."""

    impl = JSON
    cache_ok = True

    def __init__(self, context: str, *, none_as_null: bool = False) -> None:
        super().__init__(none_as_null=none_as_null)
        self.context = context
        self.none_as_null = none_as_null

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        keyring = keyring_of(dialect)
        if value is None or keyring is None or keyring.write is None:
            return value
        return keyring.encrypt(json.dumps(value), context=self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, str):
            return value
        opened = decrypt(value, keyring_of(dialect), context=self.context)
        return value if opened is value else json.loads(opened)
