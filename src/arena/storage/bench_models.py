"""The batch-benchmark tables: one ``bench_runs`` row per run, one ``bench_items`` row per
prompt × instance × repeat, one ``bench_judgments`` row per pair of answers the judge compares.

Every unit of work is a row with a status, so a run survives any crash: a process claims the
run (``worker`` + ``heartbeat_at``), marks an item ``running`` before it generates and ``done``
with its answer in one commit after; a resumed run redoes what a dead worker left ``running``
and never touches what is ``done``. ``attempts`` counts the claims of each row, and a finish is
only written by the attempt that claimed it.

Bench workers (``evaluation.bench.worker``) claim single rows instead of a whole run: a row's
``worker`` and ``lease_until`` say who holds it, and ``host``/``engine`` where its result came from.

Declared on the same ``Base`` as ``models.py``; migration ``0003_bench`` creates them (migration
0010 indexes ``owner_id``, 0019 adds the queue and lease columns, 0021 promptfoo's checks and grades, 0022 whether the test passed).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arena.storage.encrypted_types import EncryptedJSON, EncryptedString, EncryptedText
from arena.storage.models import INSTANCE_ID_MAX_LENGTH, MODEL_ID_MAX_LENGTH, TITLE_MAX_LENGTH, Base, utcnow

RUN_STATUSES: Final[tuple[str, ...]] = ("pending", "running", "interrupted", "cancelled", "done")
ITEM_STATUSES: Final[tuple[str, ...]] = ("pending", "running", "done", "error")
JUDGMENT_STATUSES: Final[tuple[str, ...]] = ("pending", "running", "done", "error", "skipped")
BATTLE_OUTCOMES: Final[tuple[str, ...]] = ("a", "b", "tie", "both_bad")
PROMPT_ID_MAX_LENGTH: Final = 200
CATEGORY_MAX_LENGTH: Final = 100
WORKER_MAX_LENGTH: Final = 200
HOST_MAX_LENGTH: Final = 255
ENGINE_MAX_LENGTH: Final = 300
SHA256_LENGTH: Final = 64


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def new_run_id() -> str:
    return uuid.uuid4().hex


class BenchRun(Base):
    """One benchmark: what to run (prompts, instances, judge, repeats, seed) and who runs it now."""

    __tablename__ = "bench_runs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(RUN_STATUSES)})", name="status"),
        Index(None, "created_at"),
        Index(None, "owner_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_run_id)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(EncryptedString("bench_runs.name", TITLE_MAX_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    prompt_set_name: Mapped[str] = mapped_column(EncryptedString("bench_runs.prompt_set_name", TITLE_MAX_LENGTH))
    prompt_file: Mapped[str | None] = mapped_column(
        EncryptedString("bench_runs.prompt_file", TITLE_MAX_LENGTH)  # the file name it came from
    )
    prompt_set_sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH))
    prompt_count: Mapped[int] = mapped_column(Integer)
    # Each instance as given: {"instance_id", "model", and the six hyperparameters}.
    instances: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # {"model", options..., "instance_id", "mode": "pairs" | "baseline", "baseline": id | None}
    judge: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    system: Mapped[str | None] = mapped_column(EncryptedText("bench_runs.system"))
    repeats: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    # One entry per session that worked on the run: when, where, and the engine versions seen.
    environment: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    worker: Mapped[str | None] = mapped_column(String(WORKER_MAX_LENGTH))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    # Set while the run waits in the queue `arena bench worker` processes serve (ARENA_BENCH_RUNNER=workers).
    queued_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"BenchRun(id={self.id!r}, status={self.status!r})"


class BenchItem(Base):
    """One instance's answer to one prompt (all its turns) in one repeat."""

    __tablename__ = "bench_items"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(ITEM_STATUSES)})", name="status"),
        UniqueConstraint("run_id", "prompt_id", "instance_id", "repeat"),
        Index(None, "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("bench_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the order the run works in
    prompt_id: Mapped[str] = mapped_column(String(PROMPT_ID_MAX_LENGTH))
    category: Mapped[str | None] = mapped_column(EncryptedString("bench_items.category", CATEGORY_MAX_LENGTH))
    turns: Mapped[list[str]] = mapped_column(EncryptedJSON("bench_items.turns"))  # the user messages, one per turn
    reference: Mapped[list[str] | None] = mapped_column(EncryptedJSON("bench_items.reference", none_as_null=True))
    instance_id: Mapped[str] = mapped_column(String(INSTANCE_ID_MAX_LENGTH))
    model: Mapped[str] = mapped_column(String(MODEL_ID_MAX_LENGTH))
    repeat: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)  # the seed this item generates with
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[list[str] | None] = mapped_column(EncryptedJSON("bench_items.answers", none_as_null=True))  # one per turn
    error: Mapped[str | None] = mapped_column(EncryptedText("bench_items.error"))  # may quote the model
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    tokens: Mapped[int | None] = mapped_column(Integer)
    ttft_s: Mapped[float | None] = mapped_column(Float)  # of the first turn
    duration_s: Mapped[float | None] = mapped_column(Float)  # all turns
    tokens_per_sec: Mapped[float | None] = mapped_column(Float)
    turn_metrics: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    # A promptfoo test's assertions (0021), and how the answer graded: {"pass", "score", "reason", "results"}.
    checks: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("bench_items.checks", none_as_null=True))
    grade: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("bench_items.grade", none_as_null=True))
    test_passed: Mapped[bool | None] = mapped_column(Boolean)  # grade["pass"] in the clear, for counting (0022)
    # Who holds the row (a bench worker's id) and until when; an expired lease may be taken over.
    worker: Mapped[str | None] = mapped_column(String(WORKER_MAX_LENGTH))
    lease_until: Mapped[datetime | None] = mapped_column()
    # Where the result came from: the machine, and the engine kind + endpoint id (never a secret).
    host: Mapped[str | None] = mapped_column(String(HOST_MAX_LENGTH))
    engine: Mapped[str | None] = mapped_column(String(ENGINE_MAX_LENGTH))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"BenchItem(id={self.id!r}, prompt_id={self.prompt_id!r}, instance_id={self.instance_id!r})"


class BenchJudgment(Base):
    """The judge's verdict on two instances' answers to one prompt in one repeat."""

    __tablename__ = "bench_judgments"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(JUDGMENT_STATUSES)})", name="status"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_sql_list(BATTLE_OUTCOMES)})", name="outcome"),
        # Named by hand: the conventional name would pass PostgreSQL's 63-character limit.
        UniqueConstraint("run_id", "prompt_id", "repeat", "instance_a", "instance_b", name="uq_bench_judgments_pair"),
        Index(None, "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("bench_runs.id", ondelete="CASCADE"))
    prompt_id: Mapped[str] = mapped_column(String(PROMPT_ID_MAX_LENGTH))
    category: Mapped[str | None] = mapped_column(EncryptedString("bench_judgments.category", CATEGORY_MAX_LENGTH))
    repeat: Mapped[int] = mapped_column(Integer)
    instance_a: Mapped[str] = mapped_column(String(INSTANCE_ID_MAX_LENGTH))
    instance_b: Mapped[str] = mapped_column(String(INSTANCE_ID_MAX_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(16))  # a battle outcome, a = instance_a won
    detail: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("bench_judgments.detail", none_as_null=True)  # what the judge said
    )
    error: Mapped[str | None] = mapped_column(EncryptedText("bench_judgments.error"))  # may quote the judge
    # Who holds the row (a bench worker's id) and until when; an expired lease may be taken over.
    worker: Mapped[str | None] = mapped_column(String(WORKER_MAX_LENGTH))
    lease_until: Mapped[datetime | None] = mapped_column()
    # Where the result came from: the machine, and the engine kind + endpoint id (never a secret).
    host: Mapped[str | None] = mapped_column(String(HOST_MAX_LENGTH))
    engine: Mapped[str | None] = mapped_column(String(ENGINE_MAX_LENGTH))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"BenchJudgment(id={self.id!r}, {self.instance_a!r} vs {self.instance_b!r}, status={self.status!r})"
