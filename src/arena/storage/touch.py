"""One rule for a conversation's ``updated_at``: it moves whenever something is written about the
conversation, not only when a turn is added. A vote, a judge's verdict and the reveal change what
an export says, so an export's ``updated_at`` must change with them (it did not).

``db.py`` registers it on every ORM session (``listen_for_changes``). Votes restored by an import
do not count: they are part of making the imported conversation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from arena.storage.models import Conversation, Judgment, Vote, utcnow


def listen_for_changes() -> None:
    if not event.contains(Session, "before_flush", _touch_conversations):
        event.listen(Session, "before_flush", _touch_conversations)


def _touch_conversations(session: Session, _context: Any, _instances: Any) -> None:
    touched: set[str] = set()
    for record in session.new:
        if isinstance(record, Vote) and not record.imported and record.conversation_id:
            touched.add(record.conversation_id)
        elif isinstance(record, Judgment) and record.conversation_id:
            touched.add(record.conversation_id)
    for record in session.dirty:
        if isinstance(record, Conversation) and inspect(record).attrs.revealed_at.history.has_changes():
            touched.add(record.id)
    if not touched:
        return
    now = utcnow()
    for conversation_id in touched:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None:
            conversation.updated_at = now
