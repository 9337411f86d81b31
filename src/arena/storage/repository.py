"""Conversations, their instances, turns and answers: plain functions over a SQLAlchemy ``Session``.

Call them inside ``Database.session()``: it commits, or rolls back all the block wrote if anything raises, so
no caller leaves a half-written record. Returned objects stay readable after the session closes (relationships
they expose load eagerly). A user's mistakes come back as ``InvalidInput``, ``NotFound`` or ``Conflict``.

Other records have modules of their own, under the same rules: ``turn_records`` (a whole new turn written at
once, on the path to the first token), ``votes``, ``judgments``, ``bench``, ``accounts`` and ``audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage.accounts import visible_conversations_clause
from arena.storage.answer_end import close_response, raise_not_streaming
from arena.storage.battles import forget_conversation, refresh_conversation
from arena.storage.encrypted_types import encrypts
from arena.storage.models import (
    BLIND_LABEL_MAX_LENGTH,
    INSTANCE_ID_MAX_LENGTH,
    MODEL_ID_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Conversation,
    ConversationInstance,
    Instance,
    Response,
    Turn,
    utcnow,
)

INTERRUPTED_ERROR: Final = "the server stopped before the answer finished"
MAX_PAGE_SIZE: Final = 500


# --- helpers -----------------------------------------------------------------------------


def _require(session: Session, column: InstrumentedAttribute[Any], value: Any, what: str) -> None:
    """Raise NotFound unless a row with ``column == value`` exists (without loading it)."""
    if session.scalar(select(column).where(column == value)) is None:
        raise NotFound(f"{what} {value!r} does not exist")


def _clean_title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned:
        raise InvalidInput("the title must not be empty")
    if len(cleaned) > TITLE_MAX_LENGTH:
        raise InvalidInput(f"the title is {len(cleaned)} characters long; at most {TITLE_MAX_LENGTH} are allowed")
    return cleaned


def _check_length(value: str, *, limit: int, what: str) -> None:
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed")


def _like_pattern(search: str) -> str:
    """A LIKE pattern matching ``search`` literally anywhere (``%`` and ``_`` are not wildcards)."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- conversations ------------------------------------------------------------------------


def create_conversation(
    session: Session, *, title: str, blind: bool = False, owner_id: int | None = None
) -> Conversation:
    now = utcnow()
    conversation = Conversation(
        title=_clean_title(title), blind=blind, owner_id=owner_id, created_at=now, updated_at=now, instances=[]
    )
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(session: Session, *, conversation_id: str) -> Conversation:
    """The conversation with its instances (in display order) loaded."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id!r} does not exist")
    return conversation


def list_conversations(
    session: Session,
    *,
    search: str | None = None,
    owner_id: int | None = None,
    visible_to: tuple[int, bool] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Conversation]:
    """Most recently active first (a new turn or a rename moves a conversation up).

    ``search`` matches anywhere in the title, ignoring case; ``owner_id`` None means everyone's.
    ``visible_to`` (user id, is admin) keeps what that account may see: its own and those shared.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    statement = select(Conversation)
    if owner_id is not None:
        statement = statement.where(Conversation.owner_id == owner_id)
    if visible_to is not None:
        statement = statement.where(visible_conversations_clause(user_id=visible_to[0], is_admin=visible_to[1]))
    statement = statement.order_by(Conversation.updated_at.desc(), Conversation.created_at.desc(), Conversation.id)
    needle = search.strip() if search is not None else ""
    if needle and encrypts(session):
        return _search_decrypted_titles(session, statement, needle, limit=limit, offset=offset)
    if needle:
        statement = statement.where(Conversation.title.ilike(_like_pattern(needle), escape="\\"))
    return list(session.scalars(statement.limit(limit).offset(offset)))


def _search_decrypted_titles(
    session: Session, statement: Select[tuple[Conversation]], needle: str, *, limit: int, offset: int
) -> list[Conversation]:
    """Encrypted titles cannot be matched in SQL: decrypt them all and match here, as ILIKE would."""
    folded = needle.lower()
    titles = session.execute(statement.with_only_columns(Conversation.id, Conversation.title))
    page = [conversation_id for conversation_id, title in titles if folded in title.lower()][offset : offset + limit]
    found = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(page)))}
    return [found[conversation_id] for conversation_id in page]


def rename_conversation(session: Session, *, conversation_id: str, title: str) -> Conversation:
    conversation = get_conversation(session, conversation_id=conversation_id)
    conversation.title = _clean_title(title)
    conversation.updated_at = utcnow()
    session.flush()
    return conversation


def delete_conversation(session: Session, *, conversation_id: str) -> None:
    """Delete the conversation with its turns, responses, votes and battles (the database cascades)."""
    forget_conversation(session, conversation_id=conversation_id)
    deleting = delete(Conversation).where(Conversation.id == conversation_id)
    result = session.execute(deleting, execution_options={"synchronize_session": "fetch"})
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"conversation {conversation_id!r} does not exist")


def mark_revealed(session: Session, *, conversation_id: str, at: datetime | None = None) -> Conversation:
    """Reveal which model is which in a blind conversation; repeating it changes nothing.
    ``at`` keeps an earlier reveal time (an imported conversation); by default it is now."""
    conversation = get_conversation(session, conversation_id=conversation_id)
    if not conversation.blind:
        raise Conflict(f"conversation {conversation_id!r} is not blind; there is nothing to reveal")
    if conversation.revealed_at is None:
        conversation.revealed_at = at or utcnow()
        session.flush()
        refresh_conversation(session, conversation_id=conversation_id)  # its signals count from now
    return conversation


# --- instances ----------------------------------------------------------------------------


def upsert_instance(
    session: Session,
    *,
    instance_id: str,
    model: str,
    temperature: float,
    top_p: float,
    top_k: int,
    repeat_penalty: float,
    num_predict: int,
    seed: int,
) -> Instance:
    """Record an instance once; later calls with the same id return the stored row.

    The id is derived from the settings, so the same id with other settings is a bug in the
    caller and raises Conflict. Safe when two sessions record the same instance at once.
    """
    _check_length(instance_id, limit=INSTANCE_ID_MAX_LENGTH, what="the instance id")
    _check_length(model, limit=MODEL_ID_MAX_LENGTH, what="the model id")
    settings: dict[str, Any] = {
        "model": model,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "repeat_penalty": repeat_penalty,
        "num_predict": num_predict,
        "seed": seed,
    }
    row = {"id": instance_id, "created_at": utcnow(), **settings}
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        session.execute(insert(Instance.__table__).values(**row).on_conflict_do_nothing(index_elements=["id"]))
    elif session.get(Instance, instance_id) is None:
        session.add(Instance(**row))
        session.flush()
    instance = session.get(Instance, instance_id, populate_existing=True)
    assert instance is not None  # inserted above or already there
    stored = {name: getattr(instance, name) for name in settings}
    if stored != settings:
        raise Conflict(f"instance {instance_id!r} already exists with other settings: {stored}")
    return instance


def set_conversation_instances(
    session: Session, *, conversation_id: str, instance_ids: Sequence[str], labels: Sequence[str]
) -> list[ConversationInstance]:
    """Choose the instances taking part, in display order, with their blind labels.

    Replaces any earlier choice. Every instance must have been recorded with upsert_instance.
    """
    if len(instance_ids) != len(labels):
        raise InvalidInput(f"{len(instance_ids)} instances but {len(labels)} labels")
    if not instance_ids:
        raise InvalidInput("a conversation needs at least one instance")
    if len(set(instance_ids)) != len(instance_ids):
        raise InvalidInput("the same instance is listed twice")
    if len(set(labels)) != len(labels):
        raise InvalidInput("two instances have the same label")
    for label in labels:
        _check_length(label, limit=BLIND_LABEL_MAX_LENGTH, what="a blind label")
    conversation = get_conversation(session, conversation_id=conversation_id)
    found = {
        instance.id: instance for instance in session.scalars(select(Instance).where(Instance.id.in_(instance_ids)))
    }
    missing = [instance_id for instance_id in instance_ids if instance_id not in found]
    if missing:
        raise NotFound(f"instance {missing[0]!r} does not exist")
    conversation.instances.clear()
    session.flush()  # delete the old rows before inserting rows with the same keys
    conversation.instances.extend(
        ConversationInstance(instance_id=instance_id, instance=found[instance_id], position=position, blind_label=label)
        for position, (instance_id, label) in enumerate(zip(instance_ids, labels, strict=True))
    )
    session.flush()
    return list(conversation.instances)


# --- turns and responses -----------------------------------------------------------------


def add_turn(
    session: Session,
    *,
    conversation_id: str,
    user_text: str,
    system: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> Turn:
    """Append a turn; its index is one more than the last (0 for the first)."""
    conversation = get_conversation(session, conversation_id=conversation_id)
    next_index = session.scalar(
        select(func.coalesce(func.max(Turn.index) + 1, 0)).where(Turn.conversation_id == conversation_id)
    )
    now = utcnow()
    turn = Turn(
        conversation_id=conversation_id,
        index=next_index,
        system=system,
        user_text=user_text,
        attachments=attachments,
        created_at=now,
        responses=[],
    )
    session.add(turn)
    conversation.updated_at = now
    try:
        session.flush()
    except IntegrityError as exc:  # the unique (conversation_id, index) caught a concurrent add
        raise Conflict("another turn was added to this conversation at the same moment; try again") from exc
    return turn


def get_turn(session: Session, *, turn_id: int) -> Turn:
    """The turn with all its responses loaded (oldest first), fresh from the database."""
    turn = session.get(Turn, turn_id, populate_existing=True)
    if turn is None:
        raise NotFound(f"turn {turn_id!r} does not exist")
    return turn


def list_turns(session: Session, *, conversation_id: str) -> list[Turn]:
    """The conversation's turns in order, each with all its responses loaded (oldest first).

    ``Turn.latest_responses()`` picks the one that counts per instance.
    """
    _require(session, Conversation.id, conversation_id, "conversation")
    statement = select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.index)
    # Refresh turns this session already holds: responses started since are not in their lists.
    return list(session.scalars(statement.execution_options(populate_existing=True)))


def start_response(session: Session, *, turn_id: int, instance_id: str, generation_round: int = 0) -> Response:
    """A new, empty response in status "streaming"; a regenerate simply starts another."""
    _require(session, Turn.id, turn_id, "turn")
    _require(session, Instance.id, instance_id, "instance")
    response = Response(turn_id=turn_id, instance_id=instance_id, status="streaming", text="", started_at=utcnow())
    response.generation_round = generation_round
    response.owner_process = session.info.get("process_id")  # the process streaming it (process_leases.py)
    response.host = session.info.get("process_host")  # its machine, kept after the lease goes
    session.add(response)
    session.flush()
    return response


def get_response(session: Session, *, response_id: int) -> Response:
    response = session.get(Response, response_id, populate_existing=True)
    if response is None:
        raise NotFound(f"response {response_id!r} does not exist")
    return response


def update_response_text(session: Session, *, response_id: int, text: str) -> None:
    """Save the text streamed so far, so a crash loses at most what came since."""
    result = session.execute(
        update(Response).where(Response.id == response_id, Response.status == "streaming").values(text=text),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise_not_streaming(session, response_id)


def finish_response(
    session: Session,
    *,
    response_id: int,
    text: str,
    status: str,
    error: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    ttft_s: float | None = None,
    duration_s: float | None = None,
    tokens_per_sec: float | None = None,
) -> Response:
    """Store the final text, status ("ok", "error" or "stopped") and metrics; only once."""
    metrics = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "ttft_s": ttft_s}
    metrics |= {"duration_s": duration_s, "tokens_per_sec": tokens_per_sec}
    close_response(session, response_id=response_id, text=text, status=status, error=error, values=metrics)
    response = session.get(Response, response_id, populate_existing=True)
    assert response is not None  # just updated
    return response


def recover_interrupted_responses(session: Session) -> int:
    """Mark answers left "streaming" by a crash as "stopped", keeping their text; returns how many.

    Call it once at start-up, before any new stream begins.
    """
    result = session.execute(
        update(Response)
        .where(Response.status == "streaming")
        .values(status="stopped", error=INTERRUPTED_ERROR, finished_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
