"""The audit log's chain: what each entry's ``hash`` covers, and the walk that checks it.

An entry's ``hash`` is computed over a canonical JSON of its content (``canonical_content``),
which includes ``prev_hash``, the ``hash`` of the entry before it (64 zeros for the first):

- a **signed** entry (``key_id`` set) carries ``HMAC-SHA256(audit key, content)``
  (``storage.audit_key``), so only the key's holder can make a valid one;
- an **unsigned** entry (``key_id`` null), written before the log was keyed, carries the plain
  SHA-256 of its content, which anyone could recompute.

A log is an unsigned part (possibly empty) followed by a signed part. The first signed entry
after unsigned ones is an *anchor* (``audit.anchor``): its signature covers the last unsigned
hash, closing that part. So ``verify`` refuses an unsigned entry after a signed one, a signed
part that starts without an anchor, and, when it holds the key, a log with unsigned entries
and no signed part at all: the shapes left by someone who rewrote the log without the key.

What a chain alone cannot show is the newest entries cut off the end: the shorter log is still a
valid chain. ``verify`` therefore reports the count and the last entry's id and hash, and accepts a
``checkpoint`` (an id and hash noted earlier, e.g. from an export) that must still be there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.storage.audit_key import AuditKey, audit_key_of
from arena.storage.audit_models import AuditEntry

GENESIS_HASH: Final = "0" * 64
ANCHOR: Final = "audit.anchor"  # the signed entry that closes the unsigned part of an old log


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int  # entries checked (all of them when ok)
    last_id: int | None
    last_hash: str | None
    bad_id: int | None = None  # the first entry found wrong
    problem: str | None = None  # what is wrong with it, in words
    unchecked: int = 0  # signed entries whose signature could not be checked: no key given

    @property
    def message(self) -> str:
        if not self.ok:
            return f"audit log damaged: {self.problem}"
        if self.unchecked:
            return (
                f"audit log not fully checked: the {self.entries - self.unchecked} unsigned entries are intact, "
                f"but the {self.unchecked} signed entries after them need the audit key (ARENA_AUDIT_KEY_FILE)"
            )
        if self.last_id is None:
            return "audit log intact: 0 entries"
        return f"audit log intact: {self.entries} entries, last entry {self.last_id} with hash {self.last_hash}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_record(entry: AuditEntry) -> dict[str, Any]:
    """The entry as plain JSON values, as exported: with the key (or none, if unsigned) anyone
    can recompute each hash from it."""
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
        "key_id": entry.key_id,
        "hash": entry.hash,
    }


def canonical_content(record: dict[str, Any]) -> bytes:
    """What the hash covers: every field of ``as_record`` but the hash, as sorted, compact JSON.

    An unsigned entry's null ``key_id`` is left out, so entries written before the column
    existed keep the hash they were written with."""
    content = {k: v for k, v in record.items() if k != "hash" and not (k == "key_id" and v is None)}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plain_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical_content(as_record(entry))).hexdigest()


def seal(entry: AuditEntry, key: AuditKey) -> None:
    """Sign ``entry`` with ``key``: set its ``key_id``, then its ``hash`` over everything else."""
    entry.key_id = key.key_id
    entry.hash = key.sign(canonical_content(as_record(entry)))


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


def _signature_problem(entry: AuditEntry, key: AuditKey) -> str | None:
    if entry.key_id != key.key_id:
        where = f" in {key.path}" if key.path is not None else ""
        return (
            f"entry {entry.id} is signed with audit key {entry.key_id}, but the key{where} is {key.key_id}: "
            "a wrong key file, or the entry was rewritten"
        )
    if not key.matches(canonical_content(as_record(entry)), entry.hash):
        return f"entry {entry.id} was edited: its content no longer matches its signature"
    return None


def verify(
    session: Session, *, checkpoint: tuple[int, str] | None = None, key: AuditKey | None = None
) -> VerifyResult:
    """Walk the chain oldest first and report the first entry that was edited, replaced or removed.

    ``key`` checks the signed part (default: the key this database signs with); without one,
    only the unsigned part and the links are checked, and ``unchecked`` counts the rest.
    ``checkpoint`` is an (id, hash) noted earlier: if that entry is gone or changed, the log was
    truncated or rewritten from there on, which the chain alone cannot show.
    """
    key = key if key is not None else audit_key_of(session)
    count = unchecked = 0
    previous_id, previous_hash = 0, GENESIS_HASH
    signed_from: int | None = None
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
        if entry.key_id is None:
            if signed_from is not None:
                return damaged(
                    entry.id,
                    f"entry {entry.id} is unsigned, but the log is signed from entry {signed_from} on: "
                    "it was rewritten without the audit key",
                )
            if entry.hash != plain_hash(entry):
                return damaged(entry.id, f"entry {entry.id} was edited: its content no longer matches its hash")
        else:
            if signed_from is None:
                if previous_id and entry.action != ANCHOR:
                    return damaged(
                        entry.id,
                        f"entry {entry.id} is signed but does not close the unsigned entries before it with an "
                        "anchor: they were rewritten without the audit key",
                    )
                signed_from = entry.id
            if key is None:
                unchecked += 1
            elif (problem := _signature_problem(entry, key)) is not None:
                return damaged(entry.id, problem)
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
    if key is not None and count and signed_from is None:
        # The key exists, so the log was anchored when it was made: a wholly unsigned log is one
        # whose signed part was removed or turned back into plain hashes.
        return damaged(
            previous_id,
            f"no entry is signed, though an audit key exists: the {count} entries were rewritten without the key",
        )
    if checkpoint is not None and not checkpoint_seen:
        return damaged(
            checkpoint[0], f"entry {checkpoint[0]} from your checkpoint is gone: the newest entries were deleted"
        )
    return VerifyResult(
        ok=True,
        entries=count,
        last_id=previous_id or None,
        last_hash=previous_hash if count else None,
        unchecked=unchecked,
    )
