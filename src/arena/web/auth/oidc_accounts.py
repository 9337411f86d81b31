"""From verified ID token claims to an arena account, in one transaction.

The account is found by (issuer, sub) only. A first login makes it (a name of its own, a
random unusable password: it logs in through the provider only); every login re-reads the
role from the claim. A login whose claims lack ARENA_OIDC_REQUIRED_CLAIM is refused, and if
that person has an account, its browser sessions and API tokens end at once: losing the group
at the provider must not leave a script or another tab logged in.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.exc import IntegrityError

from arena import accounts
from arena.accounts import Account
from arena.errors import Conflict
from arena.settings import Settings
from arena.storage import oidc as store
from arena.storage.db import Database
from arena.web.auth.oidc_claims import meets_requirement, role_of, wanted_name

RETRIES: Final = 5  # first logins racing for one name: each try loses to at most one commit


@dataclass(frozen=True)
class SignIn:
    """What a login through the provider did. `account` is None when it was refused."""

    account: Account | None
    known_as: str | None = None  # the refused person's account name, if they have one
    created: bool = False
    role_before: str | None = None  # set when the role changed
    ended: store.Ended | None = None  # what a refusal ended


def sign_in(database: Database, *, settings: Settings, claims: Mapping[str, Any]) -> SignIn:
    """One transaction, tried again when a concurrent first login took the same name (or made
    this very identity) between our look and our insert: the next try sees it and moves on to
    the next free name (or finds the account)."""
    for _ in range(RETRIES - 1):
        try:
            return _sign_in(database, settings=settings, claims=claims)
        except (IntegrityError, Conflict):
            continue
    return _sign_in(database, settings=settings, claims=claims)


def _sign_in(database: Database, *, settings: Settings, claims: Mapping[str, Any]) -> SignIn:
    assert settings.oidc_issuer is not None
    issuer, subject = settings.oidc_issuer, str(claims["sub"])
    with database.session() as session:
        user = store.find_user(session, issuer=issuer, subject=subject)
        if not meets_requirement(claims, settings.oidc_required_claim):
            if user is None:
                return SignIn(account=None)
            return SignIn(account=None, known_as=user.username, ended=store.end_everything(session, user_id=user.id))
        role = role_of(claims, settings)
        if user is None:
            user = store.add_user(
                session,
                issuer=issuer,
                subject=subject,
                wanted_name=wanted_name(claims, settings),
                role=role,
                password_hash=accounts.hash_password(secrets.token_urlsafe(32)),  # once per person
            )
            return SignIn(account=Account.of(user), created=True)
        before = user.role
        changed = store.set_role(session, user=user, role=role)
        store.touch(session, issuer=issuer, subject=subject)
        return SignIn(account=Account.of(user), role_before=before if changed else None)


def is_sso_account(database: Database, *, user_id: int) -> bool:
    with database.session() as session:
        return store.is_sso_user(session, user_id=user_id)
