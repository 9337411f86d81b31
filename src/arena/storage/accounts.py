"""Reading and writing accounts, sessions, API tokens and conversation shares.

Hashing and secrets live in `arena.accounts`; this module only stores what it is given.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage.auth_models import (
    ROLES,
    USERNAME_MAX_LENGTH,
    ApiToken,
    ConversationShare,
    IdCounter,
    User,
    UserSession,
)
from arena.storage.bench_models import BenchRun
from arena.storage.models import Conversation, Judgment, Turn, utcnow
from arena.storage.ownership import Reader, visible_conversations

USERNAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")  # always fullmatch: "$" lets a final newline in


def username_key(username: str) -> str:
    """The name as compared: "EVA", "eva" and a full-width "ｅｖａ" are one account."""
    return unicodedata.normalize("NFKC", username).casefold()


def check_username(username: str) -> str:
    if not (1 <= len(username) <= USERNAME_MAX_LENGTH) or not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            f"username must be 1 to {USERNAME_MAX_LENGTH} letters, digits or _ . @ -, starting with a letter or digit"
        )
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


# --- users ------------------------------------------------------------------------------------


def add_user(session: Session, *, username: str, password_hash: str, role: str) -> User:
    check_username(username)
    check_role(role)
    existing = find_user(session, username=username)
    if existing is not None:
        same = "" if existing.username == username else f" as {existing.username!r} (names ignore case)"
        raise Conflict(f"user {username!r} already exists{same}")
    user = User(
        id=_next_user_id(session),
        username=username,
        username_key=username_key(username),
        password_hash=password_hash,
        role=role,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def _next_user_id(session: Session) -> int:
    """Never a removed user's id: a counter that only grows (the row is locked until commit)."""
    next_id = session.scalar(
        update(IdCounter).where(IdCounter.name == "users").values(last_id=IdCounter.last_id + 1).returning(IdCounter.last_id)
    )
    if next_id is None:  # first account in a database made without the migration's row
        next_id = (session.scalar(select(func.max(User.id))) or 0) + 1
        session.add(IdCounter(name="users", last_id=next_id))
        session.flush()
    return next_id


def find_user(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username_key == username_key(username)))


def get_user(session: Session, *, username: str) -> User:
    user = find_user(session, username=username)
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def _refuse_losing_last_admin(session: Session, user: User) -> None:
    if user.role != "admin":
        return
    admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin")) or 0
    if admins <= 1:
        raise Conflict(f"{user.username!r} is the last admin: make another admin first")


def set_role(session: Session, *, username: str, role: str) -> User:
    check_role(role)
    user = get_user(session, username=username)
    if role != "admin":
        _refuse_losing_last_admin(session, user)
    if user.role != role:
        # A token made for one role must not go on working with another.
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    user.role = role
    return user


def set_password_hash(session: Session, *, username: str, password_hash: str) -> User:
    user = get_user(session, username=username)
    user.password_hash = password_hash
    # A new password ends every login made with the old one, API tokens included: a token
    # taken with a stolen password must not outlive the reset.
    for model in (UserSession, ApiToken):
        session.execute(delete(model).where(model.user_id == user.id))
    return user


def remove_user(session: Session, *, username: str) -> None:
    """Sessions, tokens and shares go with the user; their conversations, bench runs and judge
    runs stay, handed to the admins (owned by nobody, which only admins see). Their id is never reused."""
    user = get_user(session, username=username)
    _refuse_losing_last_admin(session, user)
    for model in (UserSession, ApiToken, ConversationShare):
        session.execute(delete(model).where(model.user_id == user.id))
    for owned in (Conversation, BenchRun, Judgment):
        session.execute(update(owned).where(owned.owner_id == user.id).values(owner_id=None))
    session.delete(user)


# --- browser sessions -------------------------------------------------------------------------


def add_session(session: Session, *, token_hash: str, user_id: int, csrf_token: str, ip: str | None) -> UserSession:
    now = utcnow()
    row = UserSession(
        token_hash=token_hash, user_id=user_id, csrf_token=csrf_token, created_at=now, last_seen_at=now, ip=ip
    )
    session.add(row)
    session.flush()
    return row


def find_session(session: Session, *, token_hash: str) -> tuple[UserSession, User] | None:
    row = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id).where(UserSession.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row else None


def delete_session(session: Session, *, token_hash: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash))


def touch_session(session: Session, *, token_hash: str, at: datetime) -> None:
    row = session.get(UserSession, token_hash)
    if row is not None:
        row.last_seen_at = at


# --- API tokens -------------------------------------------------------------------------------


def add_api_token(session: Session, *, user_id: int, name: str, token_hash: str, expires_at: datetime) -> ApiToken:
    token = ApiToken(user_id=user_id, name=name, token_hash=token_hash, created_at=utcnow(), expires_at=expires_at)
    session.add(token)
    session.flush()
    return token


def find_api_token(session: Session, *, token_hash: str) -> tuple[ApiToken, User] | None:
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row else None


def list_api_tokens(session: Session, *, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def delete_api_token(session: Session, *, user_id: int, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"API token {token_id} does not exist")
    session.delete(token)


# --- who may see a conversation ---------------------------------------------------------------


def turn_conversation_id(session: Session, *, turn_id: int) -> str | None:
    return session.scalar(select(Turn.conversation_id).where(Turn.id == turn_id))


def visible_conversations_clause(*, user_id: int, is_admin: bool):  # type: ignore[no-untyped-def]
    """A WHERE clause for the conversations this user may list (``storage.ownership``'s rule)."""
    return visible_conversations(Reader(user_id=user_id, is_admin=is_admin))


def share(session: Session, *, conversation_id: str, username: str) -> User:
    """Let ``username`` read the conversation. Names are compared as accounts are (``username_key``):
    its owner, in any spelling, is refused; a name that is no account gets ``NotFound``."""
    user = find_user(session, username=username)
    if user is None:
        raise NotFound(f"there is no account {username!r} to share with")
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.owner_id == user.id:
        raise InvalidInput(f"{username!r} owns this conversation already")
    if session.get(ConversationShare, (conversation_id, user.id)) is None:
        session.add(ConversationShare(conversation_id=conversation_id, user_id=user.id, created_at=utcnow()))
    return user


def unshare(session: Session, *, conversation_id: str, username: str) -> None:
    """Stop a share; an unknown name gets the same answer as a name it is not shared with."""
    user = find_user(session, username=username)
    row = None if user is None else session.get(ConversationShare, (conversation_id, user.id))
    if row is None:
        raise NotFound(f"conversation {conversation_id!r} is not shared with {username!r}")
    session.delete(row)


def list_shares(session: Session, *, conversation_id: str) -> list[str]:
    statement = (
        select(User.username)
        .join(ConversationShare, ConversationShare.user_id == User.id)
        .where(ConversationShare.conversation_id == conversation_id)
        .order_by(User.username)
    )
    return list(session.scalars(statement))
