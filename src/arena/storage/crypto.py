"""Encryption at rest: the key, and one stored value's format. No SQL here.

A key is 32 random bytes, given in base64 (standard or URL-safe) by ``ARENA_ENCRYPTION_KEY``
or in a file named by ``ARENA_ENCRYPTION_KEY_FILE`` that only its owner may read. A value is
stored as ``enc:v1:<key id>:<base64(nonce | ciphertext+tag)>``: AES-256-GCM with a fresh
96-bit nonce per value, and the column's name as associated data, so a ciphertext copied into
another column does not decrypt. The key id (a short hash of the key) lets a wrong key fail
with a clear message instead of garbage, and tells ``arena db rekey`` what it reads.
A stored value without the prefix is plaintext written before encryption was turned on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from arena.errors import EncryptionKeyError

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
PREFIX: Final = "enc:v1:"
MAKE_ONE: Final = "make one with: arena db keygen"
_STORED = re.compile(r"enc:v1:([0-9a-f]{8}):([A-Za-z0-9_-]+={0,2})")


def key_id(key: bytes) -> str:
    """A short public name for a key; a one-way hash, it tells nothing about the key itself."""
    return hashlib.sha256(b"arena encryption key id\0" + key).hexdigest()[:8]


def stored_key_id(value: str) -> str | None:
    """The id of the key ``value`` was encrypted with, or None when it is plaintext."""
    match = _STORED.fullmatch(value)
    return match.group(1) if match else None


class Cipher:
    """AES-256-GCM under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise EncryptionKeyError(f"an encryption key is {KEY_BYTES} bytes, got {len(key)}; {MAKE_ONE}")
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{PREFIX}{self.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, value: str, *, context: str) -> str:
        match = _STORED.fullmatch(value)
        if match is None or match.group(1) != self.key_id:
            raise EncryptionKeyError(f"a value in {context} was not encrypted with key {self.key_id}")
        try:
            blob = base64.urlsafe_b64decode(match.group(2))
            plaintext = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError):  # binascii.Error is a ValueError
            raise EncryptionKeyError(
                f"a value in {context} does not decrypt with key {self.key_id}: it was altered or moved"
            ) from None
        return plaintext.decode("utf-8")

    def __repr__(self) -> str:  # never the key
        return f"Cipher(key_id={self.key_id!r})"


class Keyring:
    """What a database reads and writes with: values are written under ``write`` (None:
    plaintext) and read with whichever of ``read`` made them. Plaintext always reads."""

    def __init__(self, *, write: Cipher | None, read: Iterable[Cipher] = ()) -> None:
        self.write = write
        self._read = {c.key_id: c for c in read}
        if write is not None:
            self._read.setdefault(write.key_id, write)

    @classmethod
    def of(cls, key: bytes) -> Keyring:
        """The usual keyring: read and write with one key."""
        return cls(write=Cipher(key))

    @property
    def read_ids(self) -> list[str]:
        return list(self._read)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        return plaintext if self.write is None else self.write.encrypt(plaintext, context=context)

    def decrypt(self, value: str, *, context: str) -> str:
        return decrypt(value, self, context=context)

    def cipher_for(self, found: str) -> Cipher | None:
        return self._read.get(found)


def decrypt(value: str, keyring: Keyring | None, *, context: str) -> str:
    """``value`` as the user wrote it: plaintext as it is, ciphertext opened with its key."""
    found = stored_key_id(value)
    if found is None:
        return value
    if keyring is None or not keyring.read_ids:
        raise EncryptionKeyError(
            f"the database holds encrypted values (key {found}, in {context}) but no encryption key is "
            "configured: set ARENA_ENCRYPTION_KEY or ARENA_ENCRYPTION_KEY_FILE"
        )
    cipher = keyring.cipher_for(found)
    if cipher is None:
        configured = " or ".join(keyring.read_ids)
        raise EncryptionKeyError(
            f"a value in {context} is encrypted with key {found}, but the configured key is {configured}"
        )
    return cipher.decrypt(value, context=context)


# --- keys -----------------------------------------------------------------------------------


def new_key() -> str:
    """A new random key, in URL-safe base64."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8)).decode("ascii")


def parse_key(text: str, *, source: str) -> bytes:
    """The key's bytes from its base64 text (standard or URL-safe, padding optional)."""
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionKeyError(f"the encryption key in {source} is not base64; {MAKE_ONE}") from None
    if len(key) != KEY_BYTES:
        raise EncryptionKeyError(
            f"the encryption key in {source} is {len(key)} bytes; it must be {KEY_BYTES} random bytes in base64 "
            f"({MAKE_ONE})"
        )
    return key


def read_key_file(path: Path) -> bytes:
    """The key in ``path``, which only its owner may read or change."""
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            raise EncryptionKeyError(
                f"the key file {path} is open to other users (mode {stat.S_IMODE(mode):04o}); "
                f"run: chmod 600 {path}"
            )
        text = path.read_text(encoding="ascii")
    except EncryptionKeyError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a key file"
        raise EncryptionKeyError(f"cannot read the key file {path}: {reason}") from None
    return parse_key(text, source=str(path))


def load_key(*, key: str | None, key_file: Path | None) -> bytes | None:
    """The configured key (from ARENA_ENCRYPTION_KEY or ARENA_ENCRYPTION_KEY_FILE), or None."""
    if key is not None and key_file is not None:
        raise EncryptionKeyError("set ARENA_ENCRYPTION_KEY or ARENA_ENCRYPTION_KEY_FILE, not both")
    if key is not None:
        return parse_key(key, source="ARENA_ENCRYPTION_KEY")
    if key_file is not None:
        return read_key_file(key_file.expanduser())
    return None


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` to a new file only its owner can read; an existing file is never replaced."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EncryptionKeyError(f"{path} already exists; a key file is never overwritten") from None
    except OSError as exc:
        raise EncryptionKeyError(f"cannot create the key file {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        if os.name == "posix":
            os.fchmod(file.fileno(), 0o600)  # whatever the umask did
        file.write(key + "\n")
