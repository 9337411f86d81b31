"""The tamper-evident audit log: append an event, page through it, export it, verify the chain.

Every entry's ``hash`` is the SHA-256 of a canonical JSON of its content (``canonical_content``)
including ``prev_hash``, the hash of the entry before it (64 zeros for the first). So:

- an edited field no longer matches its own hash;
- an edited entry whose hash was recomputed no longer matches the next entry's ``prev_hash``;
- a deleted entry leaves a gap in the ids (assigned here as previous id + 1, never reused).

What a chain alone cannot show is the newest entries cut off the end: the shorter log is still a
valid chain. ``verify`` therefore reports the count and the last entry's id and hash, and accepts a
``checkpoint`` (an id and hash noted earlier, e.g. from an export) that must still be there.

Appends are serialized so two writers never chain onto the same entry: the database is locked
inside the appending transaction (``LOCK TABLE`` on PostgreSQL, the write lock on SQLite), and
``record`` also holds a process-wide lock around its whole transaction. Should both fail, the
primary key refuses a second entry with the same id.

``detail`` is a small JSON object of facts about the event. Callers must never put secrets in it
(passwords, tokens, keys, cookies); ``append`` refuses keys that name one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from arena.storage.audit_models import ACTOR_MAX_LENGTH, IP_MAX_LENGTH, TARGET_MAX_LENGTH, AuditEntry
from arena.storage.db import Database
from arena.storage.models import utcnow

GENESIS_HASH: Final = "0" * 64
DETAIL_MAX_BYTES: Final = 4096

# Every event the arena records. Names are "<thing>.<verb>" so a filter can group them.
LOGIN_SUCCESS: Final = "login.success"
LOGIN_FAILURE: Final = "login.failure"
LOGOUT: Final = "logout"
USER_ADD: Final = "user.add"
USER_REMOVE: Final = "user.remove"
USER_ROLE: Final = "user.role"
USER_PASSWD: Final = "user.passwd"
USER_UNLOCK: Final = "user.unlock"
TOKEN_CREATE: Final = "token.create"
TOKEN_REVOKE: Final = "token.revoke"
MODEL_PULL: Final = "model.pull"
MODEL_DELETE: Final = "model.delete"
CONVERSATION_EXPORT: Final = "conversation.export"
CONVERSATION_DELETE: Final = "conversation.delete"
CONVERSATION_SHARE: Final = "conversation.share"
CONVERSATION_UNSHARE: Final = "conversation.unshare"
CONVERSATION_IMPORT: Final = "conversation.import"
REVEAL: Final = "reveal"
VOTE: Final = "vote"
JUDGE: Final = "judge"
SETTINGS_CHANGE: Final = "settings.change"
AUDIT_EXPORT: Final = "audit.export"
ACTIONS: Final[tuple[str, ...]] = (
    LOGIN_SUCCESS,
    LOGIN_FAILURE,
    LOGOUT,
    USER_ADD,
    USER_REMOVE,
    USER_ROLE,
    USER_PASSWD,
    USER_UNLOCK,
    TOKEN_CREATE,
    TOKEN_REVOKE,
    MODEL_PULL,
    MODEL_DELETE,
    CONVERSATION_EXPORT,
    CONVERSATION_DELETE,
    CONVERSATION_SHARE,
    CONVERSATION_UNSHARE,
    CONVERSATION_IMPORT,
    REVEAL,
    VOTE,
    JUDGE,
    SETTINGS_CHANGE,
    AUDIT_EXPORT,
)

# A detail key that names (or ends in) one of these would hold a secret.
SECRET_KEY_ENDINGS: Final[tuple[str, ...]] = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "cookie",
    "credentials",
)

_append_lock = threading.Lock()


class AuditSecretError(ValueError):
    """A caller tried to write a secret into an audit entry's detail (a bug in that caller)."""


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_before_id: int | None  # pass as before_id for the next (older) page; None at the end


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int  # entries checked (all of them when ok)
    last_id: int | None
    last_hash: str | None
    bad_id: int | None = None  # the first entry found wrong
    problem: str | None = None  # what is wrong with it, in words

    @property
    def message(self) -> str:
        if not self.ok:
            return f"audit log damaged: {self.problem}"
        if self.last_id is None:
            return "audit log intact: 0 entries"
        return f"audit log intact: {self.entries} entries, last entry {self.last_id} with hash {self.last_hash}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_record(entry: AuditEntry) -> dict[str, Any]:
    """The entry as plain JSON values, as exported: anyone can recompute each hash from it."""
    return {
        "id": entry.id,
        "created_at": _iso(entry.created_at),
        "actor_id": entry.actor_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "ip": entry.ip,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def canonical_content(record: dict[str, Any]) -> bytes:
    """What the hash covers: every field of ``as_record`` but the hash, as sorted, compact JSON."""
    content = {key: value for key, value in record.items() if key != "hash"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical_content(as_record(entry))).hexdigest()


def _refuse_secrets(value: Any, path: str = "detail") -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings, not {key!r}")
            normal = key.lower().replace("-", "_")
            if normal.endswith(SECRET_KEY_ENDINGS):
                raise AuditSecretError(f"{path}.{key}: secrets never go into the audit log")
            _refuse_secrets(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _refuse_secrets(inner, f"{path}[{index}]")


def _checked_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    detail = dict(detail or {})
    _refuse_secrets(detail)
    try:
        # Round-trip: what is hashed now must be exactly what the database gives back later.
        encoded = json.dumps(detail, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit detail must be plain JSON: {exc}") from exc
    if len(encoded.encode()) > DETAIL_MAX_BYTES:
        raise ValueError(f"audit detail is over {DETAIL_MAX_BYTES} bytes: keep it to a few facts")
    return json.loads(encoded)


def _clip(value: str | None, limit: int) -> str | None:
    # An over-long username or address must not lose the event: keep its start.
    return None if value is None else value[:limit]


def _lock_log(session: Session) -> None:
    """Hold the log's write lock until this transaction ends, before reading its newest entry."""
    if session.get_bind().dialect.name == "postgresql":
        # EXCLUSIVE still lets readers (verify, the page) go on.
        session.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
    else:
        # SQLite takes its write lock at a transaction's first write; this one changes nothing.
        session.execute(text("UPDATE audit_log SET id = id WHERE 1 = 0"))


def append(
    session: Session,
    *,
    actor_id: int | None,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry chained to the newest; it is written when the caller's transaction commits.

    ``detail`` holds no secrets (keys like password or token are refused with ``AuditSecretError``).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to ACTIONS")
    checked = _checked_detail(detail)
    _lock_log(session)
    last = session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    entry = AuditEntry(
        id=1 if last is None else last.id + 1,
        created_at=utcnow(),
        actor_id=actor_id,
        actor=_clip(actor, ACTOR_MAX_LENGTH) or "unknown",
        action=action,
        target=_clip(target, TARGET_MAX_LENGTH),
        ip=_clip(ip, IP_MAX_LENGTH),
        detail=checked,
        prev_hash=GENESIS_HASH if last is None else last.hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def record(
    database: Database,
    *,
    actor_id: int | None,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append and commit in a transaction of its own, one writer of this process at a time."""
    with _append_lock, database.session() as session:
        return append(session, actor_id=actor_id, actor=actor, action=action, target=target, ip=ip, detail=detail)


def list_entries(
    session: Session,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> AuditPage:
    """Newest first, ``limit`` at a time; ``before_id`` continues where the last page ended."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        # "user" finds user.add, user.role, ...; "vote" finds only vote.
        query = query.where((AuditEntry.action == action) | AuditEntry.action.startswith(f"{action}.", autoescape=True))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    entries = list(session.scalars(query))
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=entries, next_before_id=entries[-1].id if more else None)


def iter_entries(session: Session, *, batch_size: int = 500) -> Iterator[AuditEntry]:
    """Every entry, oldest first, read ``batch_size`` at a time (for export and verify)."""
    after = 0
    while True:
        batch = list(
            session.scalars(select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(batch_size))
        )
        yield from batch
        if len(batch) < batch_size:
            return
        after = batch[-1].id
        for entry in batch:
            session.expunge(entry)  # keep memory flat on a long log


def verify(session: Session, *, checkpoint: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the chain oldest first and report the first entry that was edited, replaced or removed.

    ``checkpoint`` is an (id, hash) noted earlier: if that entry is gone or changed, the log was
    truncated or rewritten from there on, which the chain alone cannot show.
    """
    count = 0
    previous_id, previous_hash = 0, GENESIS_HASH
    checkpoint_seen = False

    def damaged(bad_id: int, problem: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            entries=count,
            last_id=previous_id or None,
            last_hash=previous_hash if previous_id else None,
            bad_id=bad_id,
            problem=problem,
        )

    for entry in iter_entries(session):
        if entry.id != previous_id + 1:
            missing = f"{previous_id + 1}" if entry.id == previous_id + 2 else f"{previous_id + 1} to {entry.id - 1}"
            where = f"the ids jump from {previous_id} to {entry.id}" if previous_id else f"the log starts at {entry.id}"
            return damaged(entry.id, f"entry {missing} deleted: {where}")
        if entry.hash != entry_hash(entry):
            return damaged(entry.id, f"entry {entry.id} was edited: its content no longer matches its hash")
        if entry.prev_hash != previous_hash:
            before = f"entry {previous_id}" if previous_id else "the start of the chain"
            return damaged(
                entry.id, f"entry {entry.id} does not follow {before}: its prev_hash differs (an entry was rewritten)"
            )
        if checkpoint is not None and entry.id == checkpoint[0]:
            if entry.hash != checkpoint[1]:
                return damaged(entry.id, f"entry {entry.id} is not the one in your checkpoint: its hash differs")
            checkpoint_seen = True
        count += 1
        previous_id, previous_hash = entry.id, entry.hash
    if checkpoint is not None and not checkpoint_seen:
        return damaged(
            checkpoint[0], f"entry {checkpoint[0]} from your checkpoint is gone: the newest entries were deleted"
        )
    return VerifyResult(ok=True, entries=count, last_id=previous_id or None, last_hash=previous_hash if count else None)
