"""Who may reach an object a user created: the one ownership rule, as a check and as a SQL filter.

Every owned row (a conversation, a benchmark run, a raw-prompt judge run) names its owner in
``owner_id``, and the same rule decides for all of them:

- its owner may do everything with it;
- an admin may read another user's object where its kind allows (``admin_reads``: benchmark
  and judge runs, which use the shared machine; never a conversation, which stays private to
  its owner and those it is shared with);
- an object with no owner (made before accounts, or handed over when its owner was removed) is
  held by the admins, who may do everything with it;
- anyone else may not even learn that it exists (the web layer answers 404).

``reader`` None is a caller without accounts (modes none and token, and the CLI, which runs
on the server with the machine owner's rights): everything is theirs. Conversations add one
grant on top: a conversation shared with a user may be read by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from arena.storage.auth_models import ConversationShare
from arena.storage.models import Conversation

Access = Literal["owner", "read"]


@dataclass(frozen=True, kw_only=True)
class Reader:
    """An account asking: who they are and whether they are an admin."""

    user_id: int
    is_admin: bool


def access(reader: Reader | None, *, owner_id: int | None, admin_reads: bool) -> Access | None:
    """What ``reader`` may do with an object owned by ``owner_id``; None: it does not exist for them."""
    if reader is None or owner_id == reader.user_id:
        return "owner"
    if owner_id is None:
        return "owner" if reader.is_admin else None
    if reader.is_admin and admin_reads:
        return "read"
    return None


def visible(
    owner_column: InstrumentedAttribute[int | None], reader: Reader | None, *, admin_reads: bool
) -> ColumnElement[bool]:
    """The same rule as a WHERE clause: the rows ``reader`` may see (``access`` is not None)."""
    if reader is None or (reader.is_admin and admin_reads):
        return true()
    if reader.is_admin:
        return or_(owner_column == reader.user_id, owner_column.is_(None))
    return owner_column == reader.user_id


# --- conversations: the rule, plus sharing ---------------------------------------------------


def conversation_access(session: Session, *, conversation_id: str, reader: Reader | None) -> Access | None:
    """How ``reader`` reaches the conversation; None when they may not, or it does not exist."""
    row = session.execute(select(Conversation.owner_id).where(Conversation.id == conversation_id)).first()
    if row is None:
        return None
    found = access(reader, owner_id=row[0], admin_reads=False)
    if found is None and reader is not None:
        if session.get(ConversationShare, (conversation_id, reader.user_id)) is not None:
            return "read"
    return found


def visible_conversations(reader: Reader | None) -> ColumnElement[bool]:
    """The conversations ``reader`` may list: by the rule, and those shared with them."""
    by_rule = visible(Conversation.owner_id, reader, admin_reads=False)
    if reader is None:
        return by_rule
    shared = select(ConversationShare.conversation_id).where(ConversationShare.user_id == reader.user_id)
    return or_(by_rule, Conversation.id.in_(shared))
