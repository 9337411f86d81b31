"""The stored battles: one row per battle the votes and verdicts give, kept in step as they change.

``battles`` is what the leaderboard aggregates with SQL (``GROUP BY`` per pair and outcome)
instead of deriving every battle on each read. ``battles.py`` keeps it up to date: each write
to a conversation's votes, verdicts or reveal re-derives that conversation's battles
(``battle_rows``) and applies the difference; deleting the conversation cascades.

A row is one battle between two answers (``turn_id``, the instances and, where the signal names
them, ``response_a_id``/``response_b_id``). Per-battle facts about those answers (style
features: lengths, headers, lists, bold) belong here as further columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from arena.storage.encrypted_types import EncryptedString
from arena.storage.models import CATEGORY_MAX_LENGTH, INSTANCE_ID_MAX_LENGTH, MODEL_ID_MAX_LENGTH, Base

# Which leaderboards a row belongs to: imported data is left out unless asked for, and a
# conversation mixing imported and cast votes may give different battles either way.
EVERY_VIEW: Final = 0
WITH_IMPORTED_ONLY: Final = 1
WITHOUT_IMPORTED_ONLY: Final = 2


_TOTALS_PREFIX: Final = ("source", "judge_model", "category_id")


class BattleCategory(Base):
    """A category's name, stored once (encrypted like the judgments' categories); battles refer to its id."""

    __tablename__ = "battle_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(EncryptedString("battle_categories.name", CATEGORY_MAX_LENGTH))


class StoredBattle(Base):
    """One battle (``battle_rows.BattleRow``) with the leaderboards it belongs to (``view``)."""

    __tablename__ = "battles"
    __table_args__ = (
        Index(None, "conversation_id"),
        Index(None, "run_id"),
        Index("ix_battles_reading_order", "counts_at", "kind", "group_key", "position"),
        # Pair totals read these alone, in GROUP BY order: no table lookups, no sort.
        Index("ix_battles_model_totals", *_TOTALS_PREFIX, "model_a", "model_b", "outcome", "view", "counts_at"),
        Index(
            "ix_battles_instance_totals", *_TOTALS_PREFIX, "instance_a", "instance_b", "outcome", "view", "counts_at"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    view: Mapped[int] = mapped_column(SmallInteger)  # EVERY_VIEW, WITH_IMPORTED_ONLY, WITHOUT_IMPORTED_ONLY
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))  # a benchmark run's verdict
    turn_id: Mapped[int | None] = mapped_column(Integer)
    instance_a: Mapped[str] = mapped_column(String(INSTANCE_ID_MAX_LENGTH))
    instance_b: Mapped[str] = mapped_column(String(INSTANCE_ID_MAX_LENGTH))
    model_a: Mapped[str] = mapped_column(String(MODEL_ID_MAX_LENGTH))
    model_b: Mapped[str] = mapped_column(String(MODEL_ID_MAX_LENGTH))
    response_a_id: Mapped[int | None] = mapped_column(Integer)
    response_b_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8))  # a | b | tie | both_bad
    source: Mapped[str] = mapped_column(String(8))  # human | judge
    judge_model: Mapped[str | None] = mapped_column(String(MODEL_ID_MAX_LENGTH))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("battle_categories.id"))
    counts_at: Mapped[datetime] = mapped_column()
    kind: Mapped[int] = mapped_column(SmallInteger)  # the reading order at one instant (battle_rows)
    group_key: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)


class BattleChange(Base):
    """A change to ``battles``: the earliest ``counts_at`` it touched. A reader that kept online
    Elo up to some time goes on from there when every later change lies after that time."""

    __tablename__ = "battle_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    earliest: Mapped[datetime] = mapped_column()


class BattleState(Base):
    """One row: whether ``battles`` must be rebuilt from the signals (a new or upgraded database)."""

    __tablename__ = "battle_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rebuild: Mapped[bool] = mapped_column()
