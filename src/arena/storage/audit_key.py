"""The audit log's signing key: a file the database does not hold, and HMAC-SHA256 with it.

Each audit entry is signed with ``HMAC-SHA256(key, content)``, where the content includes the
previous entry's signature; so rewriting the log takes the key, not only write access to the
database. The key is 32 random bytes, in base64, in ``ARENA_AUDIT_KEY_FILE`` (default
``<data dir>/audit.key``), made with mode 0600 on the first start and refused if others may
read it. Its key id (a short one-way hash) is stored with every signed entry, so a wrong key
file is named as such rather than reported as an edited log.

Like the encryption keyring, the key travels on the engine's dialect (``use_audit_key``), so
every session of a ``Database`` signs with it and none has to be handed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from arena.errors import EncryptionKeyError

KEY_BYTES: Final = 32
KEY_ID_LENGTH: Final = 8
_ATTRIBUTE: Final = "arena_audit_key"


class AuditKeyError(EncryptionKeyError):
    """The audit key file is missing, unsafe, malformed, or not the key the log was signed with.

    A key problem like the encryption key's: it stops start-up with one line (CLI exit 2)."""


class AuditKey:
    """One signing key, with where it came from (for messages); never shows the key itself."""

    def __init__(self, key: bytes, *, path: Path | None = None) -> None:
        if len(key) != KEY_BYTES:
            raise AuditKeyError(f"an audit key is {KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        self.path = path
        self.key_id = hashlib.sha256(b"arena audit key id\0" + key).hexdigest()[:KEY_ID_LENGTH]

    def sign(self, content: bytes) -> str:
        return hmac.new(self._key, content, hashlib.sha256).hexdigest()

    def matches(self, content: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(content), signature)

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id!r}, path={self.path!r})"


def use_audit_key(engine: Engine, key: AuditKey | None) -> None:
    """Sign what ``engine`` appends to the audit log with ``key`` (None: the log cannot be written)."""
    setattr(engine.dialect, _ATTRIBUTE, key)


def audit_key_of(session: Session) -> AuditKey | None:
    return getattr(session.get_bind().dialect, _ATTRIBUTE, None)


def read_key_file(path: Path) -> AuditKey:
    """The key in ``path``, which only its owner may read or change."""
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            raise AuditKeyError(
                f"the audit key file {path} is open to other users (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
            )
        text = "".join(path.read_text(encoding="ascii").split())
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except AuditKeyError:
        raise
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit key file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, binascii.Error, ValueError):
        raise AuditKeyError(f"the audit key file {path} does not hold a key in base64") from None
    if len(key) != KEY_BYTES:
        raise AuditKeyError(f"the audit key in {path} is {len(key)} bytes; it must be {KEY_BYTES}")
    return AuditKey(key, path=path)


def create_key_file(path: Path) -> AuditKey | None:
    """A new random key in a new file with mode 0600; None if another process made it first."""
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    except OSError as exc:
        raise AuditKeyError(f"cannot create the audit key file {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        if os.name == "posix":
            os.fchmod(file.fileno(), 0o600)  # whatever the umask did
        file.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
    return AuditKey(key, path=path)
