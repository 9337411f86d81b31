"""Reading and writing single sign-on identities and the logins under way (``oidc_models``).

Which account an identity provider's user becomes is decided here by (issuer, subject) alone.
A new account's name is only a label: the provider's name when it is free, otherwise the name
with ``-sso`` (then ``-sso-2`` …), so a provider user called ``admin`` never becomes, or
shadows, the local ``admin``. The name is NFKC-normalised first, so a look-alike (a full-width
``ａｄｍｉｎ``) meets the same collision check as the name it imitates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from arena.storage import accounts as store
from arena.storage.auth_models import USERNAME_MAX_LENGTH, ApiToken, User, UserSession
from arena.storage.models import utcnow
from arena.storage.oidc_models import NEXT_PATH_MAX_LENGTH, OidcIdentity, OidcLogin

LOGIN_TTL: Final = timedelta(minutes=10)  # how long a login may stay at the provider
SUFFIX: Final = "-sso"
_NOT_IN_NAME: Final = re.compile(r"[^A-Za-z0-9_.@-]+")


@dataclass(frozen=True)
class Ended:
    sessions: int
    tokens: int


# --- identities -------------------------------------------------------------------------------


def find_user(session: Session, *, issuer: str, subject: str) -> User | None:
    row = session.execute(
        select(User)
        .join(OidcIdentity, OidcIdentity.user_id == User.id)
        .where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
    ).first()
    return row[0] if row else None


def is_sso_user(session: Session, *, user_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(OidcIdentity).where(OidcIdentity.user_id == user_id)) == 1


def sso_user_ids(session: Session) -> set[int]:
    """Every account that signs in through the provider."""
    return set(session.scalars(select(OidcIdentity.user_id)))


def base_name(wanted: str) -> str:
    """A username from whatever the provider calls the person: allowed characters only, room left
    for a suffix, never empty."""
    name = _NOT_IN_NAME.sub("-", unicodedata.normalize("NFKC", wanted).strip()).lstrip("_.@-")
    return name[: USERNAME_MAX_LENGTH - len(SUFFIX) - 4] or "user"


def free_name(session: Session, *, wanted: str) -> str:
    base = base_name(wanted)
    candidates = [base, base + SUFFIX, *(f"{base}{SUFFIX}-{n}" for n in range(2, 1000))]
    for candidate in candidates:
        if store.find_user(session, username=candidate) is None:
            return candidate
    raise RuntimeError(f"no free username for {base!r}")  # a thousand accounts of one name: not a real case


def add_user(session: Session, *, issuer: str, subject: str, wanted_name: str, role: str, password_hash: str) -> User:
    """A new account for this identity. It has no usable password (`password_hash` is of a random
    secret): it logs in through the provider only."""
    user = store.add_user(
        session, username=free_name(session, wanted=wanted_name), password_hash=password_hash, role=role
    )
    now = utcnow()
    session.add(OidcIdentity(issuer=issuer, subject=subject, user_id=user.id, created_at=now, last_login_at=now))
    session.flush()
    return user


def touch(session: Session, *, issuer: str, subject: str) -> None:
    identity = session.get(OidcIdentity, (issuer, subject))
    if identity is not None:
        identity.last_login_at = utcnow()


def set_role(session: Session, *, user: User, role: str) -> bool:
    """The provider's word on the role, at each login. A change ends the user's API tokens (a
    token made for one role must not go on working with another), as `arena user role` does;
    the provider decides, so the last-admin guard of local accounts does not apply (the local
    break-glass admin stays). True when the role changed."""
    store.check_role(role)
    if user.role == role:
        return False
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    user.role = role
    return True


def end_everything(session: Session, *, user_id: int) -> Ended:
    """Every browser session and API token of the user, ended now."""
    sessions = session.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount or 0
    tokens = session.execute(delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount or 0
    return Ended(sessions=sessions, tokens=tokens)


# --- logins under way -------------------------------------------------------------------------


def add_login(
    session: Session, *, state: str, browser_hash: str, nonce: str, code_verifier: str, redirect_uri: str, next_path: str
) -> None:
    now = utcnow()
    # Logins abandoned at the provider are forgotten here, when the next one starts.
    session.execute(delete(OidcLogin).where(OidcLogin.created_at < now - LOGIN_TTL))
    session.add(
        OidcLogin(
            state=state,
            browser_hash=browser_hash,
            nonce=nonce,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri[:NEXT_PATH_MAX_LENGTH],
            next_path=next_path if len(next_path) <= NEXT_PATH_MAX_LENGTH else "/",
            created_at=now,
        )
    )


def take_login(session: Session, *, state: str, now: datetime | None = None) -> OidcLogin | None:
    """The login with this state, removed (a state is good once), or None when there is none or it
    is older than `LOGIN_TTL`."""
    row = session.get(OidcLogin, state)
    if row is None:
        return None
    session.delete(row)
    if (now or utcnow()) - row.created_at > LOGIN_TTL:
        return None
    return row
