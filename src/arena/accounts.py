"""Accounts for `users` mode: passwords (argon2id), browser sessions and API tokens.

Used by the web layer and by `arena user …`. Secrets handed out here (session cookies, API
tokens) are random, long and stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from arena.errors import InvalidInput
from arena.storage import accounts as store
from arena.storage import login_attempts
from arena.storage import oidc as sso
from arena.storage.auth_models import ApiToken, User
from arena.storage.db import Database
from arena.storage.models import utcnow

MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024  # argon2 takes any length; this only stops absurd bodies
API_TOKEN_PREFIX: Final = "arena_"
# Writing last_seen_at on every request would turn reads into writes; once a minute is enough
# for an idle timeout counted in minutes.
TOUCH_INTERVAL: Final = timedelta(seconds=60)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@cache
def _dummy_hash() -> str:
    """Compared against when the user does not exist, so "no such user" costs as long as a wrong
    password. Made on first use: hashing at import would slow every command's start."""
    return _hasher.hash("not a real password")


class TokenExpired(Exception):
    """The API token is known but past its `expires_at`; the web layer answers 401."""

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"This API token expired at {expired_at:%Y-%m-%d %H:%M} UTC: make a new one")
        self.expired_at = expired_at


@dataclass(frozen=True)
class Account:
    """What the web layer needs about a user; no hash in here."""

    id: int
    username: str
    role: str

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(id=user.id, username=user.username, role=user.role)


@dataclass(frozen=True)
class Login:
    account: Account
    cookie: str
    csrf_token: str


@dataclass(frozen=True)
class SessionState:
    account: Account
    csrf_token: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


# --- users ------------------------------------------------------------------------------------


def add_user(database: Database, *, username: str, password: str, role: str) -> Account:
    password_hash = hash_password(password)
    with database.session() as session:
        return Account.of(store.add_user(session, username=username, password_hash=password_hash, role=role))


def set_password(database: Database, *, username: str, password: str) -> Account:
    """Refused for an account that signs in through the identity provider: a local password would
    skip the provider and its required group (and outlive the person's removal there)."""
    password_hash = hash_password(password)
    with database.session() as session:
        user = store.get_user(session, username=username)
        if sso.is_sso_user(session, user_id=user.id):
            raise InvalidInput(
                f"{user.username} signs in through single sign-on and has no password here: "
                "manage them at the identity provider (to lock them out, remove them there, "
                "then end their sessions and tokens here)"
            )
        return Account.of(store.set_password_hash(session, username=username, password_hash=password_hash))


def set_role(database: Database, *, username: str, role: str) -> Account:
    with database.session() as session:
        return Account.of(store.set_role(session, username=username, role=role))


def remove_user(database: Database, *, username: str) -> None:
    with database.session() as session:
        store.remove_user(session, username=username)


def unlock(database: Database, *, username: str) -> Account:
    """Forget the failed logins counted against this account, from every address."""
    with database.session() as session:
        user = store.get_user(session, username=username)
        login_attempts.clear_account(session, username=user.username)
        return Account.of(user)


def list_accounts(database: Database) -> list[tuple[Account, datetime]]:
    with database.session() as session:
        return [(Account.of(user), user.created_at) for user in store.list_users(session)]


def sso_user_ids(database: Database) -> set[int]:
    """The accounts that sign in through the identity provider (ARENA_OIDC_ISSUER)."""
    with database.session() as session:
        return sso.sso_user_ids(session)


def count_users(database: Database) -> int:
    with database.session() as session:
        return store.count_users(session)


def verify_password(database: Database, *, username: str, password: str) -> Account | None:
    """The account when the password is right; None otherwise, in about the same time."""
    with database.session() as session:
        user = store.find_user(session, username=username)
        stored = user.password_hash if user is not None else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if _hasher.check_needs_rehash(stored):
            user.password_hash = _hasher.hash(password)
        return Account.of(user)


# --- browser sessions -------------------------------------------------------------------------


def start_session(database: Database, *, account: Account, ip: str | None, replaces: str | None = None) -> Login:
    """A fresh cookie at every login (the old one, if sent, is ended: no session fixation)."""
    cookie = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    with database.session() as session:
        if replaces:
            store.delete_session(session, token_hash=digest(replaces))
        store.add_session(session, token_hash=digest(cookie), user_id=account.id, csrf_token=csrf_token, ip=ip)
    return Login(account=account, cookie=cookie, csrf_token=csrf_token)


def resume_session(database: Database, *, cookie: str, idle: timedelta, max_age: timedelta) -> SessionState | None:
    """The session behind a cookie, unless it is unknown, idle too long or too old (then it ends)."""
    token_hash = digest(cookie)
    now = utcnow()
    with database.session() as session:
        found = store.find_session(session, token_hash=token_hash)
        if found is None:
            return None
        row, user = found
        if now - row.last_seen_at > idle or now - row.created_at > max_age:
            store.delete_session(session, token_hash=token_hash)
            return None
        if now - row.last_seen_at > TOUCH_INTERVAL:
            row.last_seen_at = now
        return SessionState(account=Account.of(user), csrf_token=row.csrf_token)


def end_session(database: Database, *, cookie: str) -> None:
    with database.session() as session:
        store.delete_session(session, token_hash=digest(cookie))


# --- API tokens -------------------------------------------------------------------------------


def issue_api_token(
    database: Database, *, account: Account, name: str, days: int = 90, max_days: int = 365
) -> tuple[str, ApiToken]:
    """The token itself is returned once and never stored. It ends after `days` days (the web
    layer passes ARENA_TOKEN_DAYS and ARENA_TOKEN_MAX_DAYS; the defaults are theirs)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("token name must be 1 to 100 characters")
    if not 1 <= days <= max_days:
        raise InvalidInput(f"days must be 1 to {max_days} (ARENA_TOKEN_MAX_DAYS), got {days}")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=days)
    with database.session() as session:
        row = store.add_api_token(
            session, user_id=account.id, name=name, token_hash=digest(token), expires_at=expires_at
        )
    return token, row


def resolve_api_token(database: Database, *, token: str) -> Account | None:
    """The token's account; None when it is unknown or revoked; `TokenExpired` when too old."""
    with database.session() as session:
        found = store.find_api_token(session, token_hash=digest(token))
        if found is None:
            return None
        row, user = found
        now = utcnow()
        if now >= row.expires_at:
            raise TokenExpired(row.expires_at)
        if row.last_used_at is None or now - row.last_used_at > TOUCH_INTERVAL:
            row.last_used_at = now
        return Account.of(user)


def list_api_tokens(database: Database, *, account: Account) -> list[ApiToken]:
    with database.session() as session:
        return store.list_api_tokens(session, user_id=account.id)


def revoke_api_token(database: Database, *, account: Account, token_id: int) -> None:
    with database.session() as session:
        store.delete_api_token(session, user_id=account.id, token_id=token_id)
