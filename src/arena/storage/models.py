"""The arena's core tables (instances, conversations, turns, answers, votes, judgments), as
SQLAlchemy 2 declarative models, and the ``Base`` every other table module declares on.

Accounts (``auth_models``), benchmarks (``bench_models``) and the audit log (``audit_models``)
have modules of their own; ``schema`` imports them all.

Only portable types are used so that SQLite and PostgreSQL behave the same: strings with a
length the storage functions check before writing, ``JSON``, and ``UTCDateTime`` (always an aware
UTC datetime in Python, whatever the backend stores). Constraint names come from one naming
convention so that migrations name them identically on both backends.

Every change here needs a migration in ``migrations/versions``; the storage tests fail when
the migrated schema and these models differ.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from arena.storage.encrypted_types import EncryptedJSON, EncryptedString, EncryptedText

# The six sampling settings every instance has, in the order they are shown; the one list
# (engines.base.SamplingOptions declares the same fields with their ranges).
SAMPLING_FIELDS: Final = ("temperature", "top_p", "top_k", "repeat_penalty", "num_predict", "seed")
TITLE_MAX_LENGTH: Final = 200
MODEL_ID_MAX_LENGTH: Final = 300
INSTANCE_ID_MAX_LENGTH: Final = 400
BLIND_LABEL_MAX_LENGTH: Final = 32

ResponseStatus = Literal["streaming", "ok", "error", "stopped"]
FinishedStatus = Literal["ok", "error", "stopped"]
VoteKind = Literal["thumb", "pairwise"]
RESPONSE_STATUSES: Final[tuple[str, ...]] = ("streaming", "ok", "error", "stopped")
FINISHED_STATUSES: Final[tuple[str, ...]] = ("ok", "error", "stopped")
VOTE_KINDS: Final[tuple[str, ...]] = ("thumb", "pairwise")
THUMB_VALUES: Final[tuple[str, ...]] = ("up", "down")
PAIRWISE_VALUES: Final[tuple[str, ...]] = ("A", "B", "tie", "both_bad")
JUDGE_MODES: Final[tuple[str, ...]] = ("pairwise", "single", "reference")
JUDGE_VERDICTS: Final[tuple[str, ...]] = ("A", "B", "tie")  # as the judge said it, in the labels it saw
JUDGE_WINNERS: Final[tuple[str, ...]] = ("a", "b", "tie")  # in terms of key_a / key_b
JUDGE_KEY_MAX_LENGTH: Final = 400
CATEGORY_MAX_LENGTH: Final = 100

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_conversation_id() -> str:
    return uuid.uuid4().hex


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    SQLite has no time zones: it stores the UTC wall time and we attach UTC on the way back.
    PostgreSQL stores ``timestamptz`` and answers in the session's zone; we convert to UTC.
    Naive datetimes are refused because nobody can tell which zone they meant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def is_masked(*, blind: bool, revealed_at: datetime | None) -> bool:
    """The one blind rule: blind and not yet revealed, clients know its instances by label only."""
    return blind and revealed_at is None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Instance(Base):
    """A model at fixed settings; the id is derived from them, so equal settings share a row."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(INSTANCE_ID_MAX_LENGTH), primary_key=True)
    model: Mapped[str] = mapped_column(String(MODEL_ID_MAX_LENGTH))
    temperature: Mapped[float] = mapped_column(Float)
    top_p: Mapped[float] = mapped_column(Float)
    top_k: Mapped[int] = mapped_column(Integer)
    repeat_penalty: Mapped[float] = mapped_column(Float)
    num_predict: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Instance(id={self.id!r})"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index(None, "updated_at"), Index(None, "owner_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_conversation_id)
    # No foreign key on purpose: removing a user hands their conversations to the admins
    # (owner NULL) instead of deleting them; see migration 0007.
    owner_id: Mapped[int | None] = mapped_column(Integer)
    # Made from the first words of the prompt, so as private as the prompt.
    title: Mapped[str] = mapped_column(EncryptedString("conversations.title", TITLE_MAX_LENGTH))
    blind: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revealed_at: Mapped[datetime | None] = mapped_column()
    # Rebuilt from an export: everything in it is data someone handed the server, so no vote on
    # it (restored or cast later) and no verdict about it is a battle unless asked for.
    imported: Mapped[bool] = mapped_column(default=False, server_default=false())

    # Always wanted together with the conversation, and small: loaded eagerly so the object
    # stays usable after its session has closed.
    instances: Mapped[list[ConversationInstance]] = relationship(
        order_by="ConversationInstance.position",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def is_revealed(self) -> bool:
        return self.revealed_at is not None

    @property
    def is_masked(self) -> bool:
        return is_masked(blind=self.blind, revealed_at=self.revealed_at)

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r}, title={self.title!r})"


class ConversationInstance(Base):
    """One instance taking part in a conversation, at its display position."""

    __tablename__ = "conversation_instances"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    blind_label: Mapped[str] = mapped_column(String(BLIND_LABEL_MAX_LENGTH))  # "Model A"

    instance: Mapped[Instance] = relationship(lazy="selectin")

    def __repr__(self) -> str:
        return f"ConversationInstance({self.position}: {self.instance_id!r} as {self.blind_label!r})"


class Turn(Base):
    """One user message (with its optional system prompt) and, through responses, the answers."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("conversation_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)  # 0, 1, 2... within the conversation
    system: Mapped[str | None] = mapped_column(EncryptedText("turns.system"))
    user_text: Mapped[str] = mapped_column(EncryptedText("turns.user_text"))
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(
        EncryptedJSON("turns.attachments", none_as_null=True)  # with each file's text
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    responses: Mapped[list[Response]] = relationship(
        order_by="Response.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def latest_responses(self) -> dict[str, Response]:
        """The response that counts for each instance: the newest (a regenerate adds one)."""
        latest: dict[str, Response] = {}
        for response in self.responses:  # ordered by id, so later ones overwrite
            latest[response.instance_id] = response
        return latest

    def __repr__(self) -> str:
        return f"Turn(id={self.id!r}, conversation_id={self.conversation_id!r}, index={self.index})"


class Response(Base):
    """One instance's answer to one turn, written while it streams."""

    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(RESPONSE_STATUSES)})", name="status"),
        # A finished answer has a finish time and a streaming one has none.
        CheckConstraint(
            "(status = 'streaming' AND finished_at IS NULL) OR (status <> 'streaming' AND finished_at IS NOT NULL)",
            name="finished_at",
        ),
        Index(None, "turn_id", "instance_id"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    status: Mapped[str] = mapped_column(String(16), default="streaming")
    text: Mapped[str] = mapped_column(EncryptedText("responses.text"), default="")
    error: Mapped[str | None] = mapped_column(EncryptedText("responses.error"))  # may quote the prompt or the model
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    ttft_s: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    tokens_per_sec: Mapped[float | None] = mapped_column(Float)
    # Prompt tokens an engine's cache served, its prompt-processing time, and why generation
    # ended ("length": the token limit); None where the engine did not say.
    cached_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    prompt_s: Mapped[float | None] = mapped_column(Float)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    # Seconds waiting for a free engine slot and loading the model (both inside ttft_s), and
    # whether tokens_per_sec is the engine's own generation clock; None: not said.
    wait_s: Mapped[float | None] = mapped_column(Float)
    load_s: Mapped[float | None] = mapped_column(Float)
    engine_timed: Mapped[bool | None] = mapped_column(Boolean)
    # Another round's generation (another conversation, a judge, a bench item) ran beside it:
    # its speed is not compared. None: not known (stored before this was recorded).
    contended: Mapped[bool | None] = mapped_column(Boolean)
    # Answers generated together share a round (0: with the turn); each regenerate is a round
    # of its own, so speeds measured under different loads are never compared.
    generation_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # The server process streaming it (server_processes.id, no foreign key: leases come and go).
    owner_process: Mapped[str | None] = mapped_column(String(32))
    # That process's machine, kept with the answer: the lease row goes when the process stops,
    # and the speed figures still group the answer by where it was generated (0025).
    host: Mapped[str | None] = mapped_column(String(255))

    @property
    def is_finished(self) -> bool:
        return self.status != "streaming"

    def __repr__(self) -> str:
        return f"Response(id={self.id!r}, instance_id={self.instance_id!r}, status={self.status!r})"


class Vote(Base):
    """A thumb on one response, or a pairwise verdict between two instances on one turn."""

    __tablename__ = "votes"
    __table_args__ = (
        CheckConstraint(
            f"(kind = 'thumb' AND value IN ({_sql_list(THUMB_VALUES)})"
            " AND response_id IS NOT NULL AND instance_a IS NULL AND instance_b IS NULL)"
            f" OR (kind = 'pairwise' AND value IN ({_sql_list(PAIRWISE_VALUES)})"
            " AND response_id IS NULL AND instance_a IS NOT NULL AND instance_b IS NOT NULL"
            " AND instance_a <> instance_b)",
            name="shape",
        ),
        Index(None, "conversation_id"),
        Index(None, "turn_id"),
        Index(None, "response_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(16))
    instance_a: Mapped[str | None] = mapped_column(ForeignKey("instances.id"))
    instance_b: Mapped[str | None] = mapped_column(ForeignKey("instances.id"))
    voter_id: Mapped[int | None] = mapped_column(Integer)  # None: the single local user
    # The category of the prompt, as the voter chose it: per-category leaderboards count the vote.
    category: Mapped[str | None] = mapped_column(EncryptedString("votes.category", CATEGORY_MAX_LENGTH))
    # Restored from an export: data, not a vote cast here (off the leaderboard unless asked).
    imported: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Vote(id={self.id!r}, kind={self.kind!r}, value={self.value!r})"


class Judgment(Base):
    """One LLM-judge verdict: a pair judged in both orders, or one answer graded 1–10.

    ``key_a`` / ``key_b`` name the candidates: instance ids when the judgment is about a stored
    turn, the caller's own keys for raw prompts. ``*_ab`` is the order with ``key_a`` shown as
    [A]; ``*_ba`` the swapped order (pairwise only). A verdict that changes with the order is
    recorded with ``consistent`` false and ``winner`` "tie". Rows of one request share a
    ``run_id``. Only verdicts that could be read are stored; the judge's API key never is.
    """

    __tablename__ = "judgments"
    __table_args__ = (
        CheckConstraint(f"mode IN ({_sql_list(JUDGE_MODES)})", name="mode"),
        CheckConstraint(
            f"(mode = 'pairwise' AND key_b IS NOT NULL AND raw_ba IS NOT NULL"
            f" AND verdict_ab IN ({_sql_list(JUDGE_VERDICTS)}) AND verdict_ba IN ({_sql_list(JUDGE_VERDICTS)})"
            f" AND winner IN ({_sql_list(JUDGE_WINNERS)}) AND consistent IS NOT NULL AND score IS NULL)"
            " OR (mode <> 'pairwise' AND key_b IS NULL AND raw_ba IS NULL AND verdict_ab IS NULL"
            " AND verdict_ba IS NULL AND winner IS NULL AND consistent IS NULL AND score IS NOT NULL)",
            name="shape",
        ),
        # A judgment is about a stored turn (both ids) or about a raw prompt (neither).
        CheckConstraint("(conversation_id IS NULL) = (turn_id IS NULL)", name="turn"),
        Index(None, "run_id"),
        Index(None, "turn_id"),
        Index(None, "conversation_id"),
        Index(None, "judge_model"),
        Index(None, "owner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32))
    # Who ran a raw-prompt judgment (None: before accounts, or a removed user's); one about a
    # stored turn belongs to that turn's conversation instead.
    owner_id: Mapped[int | None] = mapped_column(Integer)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    judge_model: Mapped[str] = mapped_column(String(MODEL_ID_MAX_LENGTH))
    cloud: Mapped[bool] = mapped_column(default=False)
    mode: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(EncryptedString("judgments.category", CATEGORY_MAX_LENGTH))
    # The caller's own names for raw answers: compared in Python, never in SQL (battle_signals).
    key_a: Mapped[str] = mapped_column(EncryptedString("judgments.key_a", JUDGE_KEY_MAX_LENGTH))
    key_b: Mapped[str | None] = mapped_column(EncryptedString("judgments.key_b", JUDGE_KEY_MAX_LENGTH))
    reference: Mapped[str | None] = mapped_column(EncryptedText("judgments.reference"))
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # the judge's sampling settings
    raw_ab: Mapped[str] = mapped_column(EncryptedText("judgments.raw_ab"))
    raw_ba: Mapped[str | None] = mapped_column(EncryptedText("judgments.raw_ba"))
    verdict_ab: Mapped[str | None] = mapped_column(String(8))
    verdict_ba: Mapped[str | None] = mapped_column(String(8))
    parsed: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("judgments.parsed", none_as_null=True)  # explanations, how each was read
    )
    score: Mapped[float | None] = mapped_column(Float)
    winner: Mapped[str | None] = mapped_column(String(8))
    consistent: Mapped[bool | None] = mapped_column()
    # The answers judged (a stored turn's responses; None: a raw prompt, or unknown for older rows).
    # A regenerate adds a newer answer: the verdict stays, about the answer it judged.
    response_a_id: Mapped[int | None] = mapped_column(Integer)
    response_b_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Judgment(id={self.id!r}, mode={self.mode!r}, judge_model={self.judge_model!r})"
