"""The tamper-evident audit log: append an event, page through it, open it for signing.

Every entry is chained to the one before and signed with the audit key (``audit_chain`` says
what a hash covers and checks the chain; ``audit_key`` holds the key). So:

- an edited field no longer matches its own signature;
- an entry rewritten with a fresh hash needs the key, and breaks the next entry's ``prev_hash``;
- a deleted entry leaves a gap in the ids (assigned here as previous id + 1, never reused).

Appends are serialized so two writers never chain onto the same entry: the database is locked
inside the appending transaction (``LOCK TABLE`` on PostgreSQL, the write lock on SQLite), and
``record`` also holds a process-wide lock around its whole transaction. Should both fail, the
primary key refuses a second entry with the same id.

``detail`` is a small JSON object of facts about the event. Callers must never put secrets in it
(passwords, tokens, keys, cookies); ``append`` refuses keys that name one.
"""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from arena.storage.audit_chain import ANCHOR, GENESIS_HASH, seal
from arena.storage.audit_chain import VerifyResult as VerifyResult
from arena.storage.audit_chain import as_record as as_record
from arena.storage.audit_chain import canonical_content as canonical_content
from arena.storage.audit_chain import iter_entries as iter_entries
from arena.storage.audit_chain import verify as verify
from arena.storage.audit_key import AuditKey, AuditKeyError, audit_key_of, create_key_file, read_key_file, use_audit_key
from arena.storage.audit_models import ACTOR_MAX_LENGTH, IP_MAX_LENGTH, TARGET_MAX_LENGTH, AuditEntry
from arena.storage.models import utcnow

DETAIL_MAX_BYTES: Final = 4096

# Every event the arena records. Names are "<thing>.<verb>" so a filter can group them.
LOGIN_SUCCESS: Final = "login.success"
LOGIN_FAILURE: Final = "login.failure"  # a wrong password (or an unusable account's)
LOGIN_SSO_REFUSED: Final = "login.sso_refused"  # single sign-on refused someone: not a password guess
LOGOUT: Final = "logout"
USER_ADD: Final = "user.add"
USER_REMOVE: Final = "user.remove"
USER_ROLE: Final = "user.role"
USER_PASSWD: Final = "user.passwd"
USER_UNLOCK: Final = "user.unlock"
TOKEN_CREATE: Final = "token.create"
TOKEN_REVOKE: Final = "token.revoke"
TOKEN_FAILURE: Final = "token.failure"  # a wrong bearer token (never the token itself)
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
JUDGE_FAILURE: Final = "judge.failure"  # a judge run that failed once the judge was asked
BENCH_CREATE: Final = "bench.create"
BENCH_CANCEL: Final = "bench.cancel"
BENCH_RESUME: Final = "bench.resume"
BENCH_REPORT: Final = "bench.report"
SETTINGS_CHANGE: Final = "settings.change"
AUDIT_EXPORT: Final = "audit.export"
AUDIT_ANCHOR: Final = ANCHOR
# Alerts on abuse (web/observability/alerts.py): one entry per alert, not per request.
ABUSE_LOGIN_BURST: Final = "abuse.login_burst"
ABUSE_EXPORT_BURST: Final = "abuse.export_burst"
ABUSE_PULL_BURST: Final = "abuse.pull_burst"
ABUSE_RATE_LIMITED: Final = "abuse.rate_limited"
ABUSE_AUDIT_CHAIN_BROKEN: Final = "abuse.audit_chain_broken"
ACTIONS: Final[tuple[str, ...]] = (
    LOGIN_SUCCESS,
    LOGIN_FAILURE,
    LOGIN_SSO_REFUSED,
    LOGOUT,
    USER_ADD,
    USER_REMOVE,
    USER_ROLE,
    USER_PASSWD,
    USER_UNLOCK,
    TOKEN_CREATE,
    TOKEN_REVOKE,
    TOKEN_FAILURE,
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
    JUDGE_FAILURE,
    BENCH_CREATE,
    BENCH_CANCEL,
    BENCH_RESUME,
    BENCH_REPORT,
    SETTINGS_CHANGE,
    AUDIT_EXPORT,
    AUDIT_ANCHOR,
    ABUSE_LOGIN_BURST,
    ABUSE_EXPORT_BURST,
    ABUSE_PULL_BURST,
    ABUSE_RATE_LIMITED,
    ABUSE_AUDIT_CHAIN_BROKEN,
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
    key = audit_key_of(session)
    if key is None:
        # An unsigned entry now would be indistinguishable from one forged without the key.
        raise AuditKeyError("the audit log is written only with its key: open the database with migrate()")
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
    seal(entry, key)
    session.add(entry)
    session.flush()
    return entry


class SessionSource(Protocol):
    """What ``record`` needs of a ``storage.db.Database`` (which imports this module)."""

    engine: Engine

    def session(self) -> AbstractContextManager[Session]: ...


def record(
    database: SessionSource,
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


def open_signed_log(database: SessionSource, key_file: Path) -> AuditKey:
    """Sign every later entry with the key in ``key_file``; made (mode 0600) on the first start.

    When this makes the key and the log already has (unsigned) entries, a signed anchor entry
    closes them. A missing key for a signed log, or another key than the log's, is refused:
    signing on with a new key would leave a log that no key verifies.
    """
    with database.session() as session:
        newest = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        signed_with = session.scalar(
            select(AuditEntry.key_id).where(AuditEntry.key_id.is_not(None)).order_by(AuditEntry.id.desc()).limit(1)
        )
    made = False
    if key_file.exists():
        key = read_key_file(key_file)
    elif signed_with is not None:
        raise AuditKeyError(
            f"the audit log is signed with key {signed_with}, but its key file {key_file} is missing: "
            "restore it from your backup (or point ARENA_AUDIT_KEY_FILE at it)"
        )
    else:
        created = create_key_file(key_file)
        made = created is not None
        key = created if created is not None else read_key_file(key_file)  # another process was first
    if signed_with is not None and signed_with != key.key_id:
        raise AuditKeyError(
            f"the audit log is signed with key {signed_with}, but {key_file} holds key {key.key_id}: "
            "point ARENA_AUDIT_KEY_FILE at the log's key"
        )
    use_audit_key(database.engine, key)
    if made and newest is not None:
        record(database, actor_id=None, actor="arena", action=AUDIT_ANCHOR, detail={"closes_entry": newest})
    return key
