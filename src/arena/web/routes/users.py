"""Admins manage accounts: list, add, change role or password, remove (`users` mode)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from arena import accounts
from arena.errors import InvalidInput
from arena.storage import audit
from arena.web.audit_events import record_event
from arena.web.deps import Admin, AppSettings, Db
from arena.web.openapi import error_responses
from arena.web.schemas.accounts import UserCreate, UserList, UserPublic, UserUpdate

router = APIRouter(prefix="/api/users", tags=["accounts"], dependencies=[Admin])

ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)


def _accounts_on(settings: AppSettings) -> None:
    if settings.auth_mode != "users":
        raise InvalidInput("managing users needs accounts: start the arena with ARENA_AUTH_MODE=users")


@router.get("", response_model=UserList, responses=ERRORS)
async def list_users(db: Db, settings: AppSettings) -> UserList:
    """Every account with its role."""
    _accounts_on(settings)
    found = await asyncio.to_thread(accounts.list_accounts, db)
    sso = await asyncio.to_thread(accounts.sso_user_ids, db)
    return UserList(
        users=[UserPublic(username=a.username, role=a.role, created_at=at, sso=a.id in sso) for a, at in found]  # type: ignore[arg-type]
    )


@router.post("", status_code=201, response_model=UserPublic, responses=ERRORS)
async def add_user(body: UserCreate, request: Request, db: Db, settings: AppSettings) -> UserPublic:
    """Create an account (password at least 8 characters)."""
    _accounts_on(settings)
    account = await asyncio.to_thread(
        accounts.add_user, db, username=body.username, password=body.password, role=body.role
    )
    await record_event(request, audit.USER_ADD, target=account.username, role=account.role)
    return UserPublic(username=account.username, role=account.role)  # type: ignore[arg-type]


@router.patch("/{username}", response_model=UserPublic, responses=ERRORS)
async def update_user(username: str, body: UserUpdate, request: Request, db: Db, settings: AppSettings) -> UserPublic:
    """Change a role (the last admin stays admin) or set a new password; either ends their API
    tokens, and a new password ends their browser sessions too."""
    _accounts_on(settings)
    if body.role is None and body.password is None:
        raise InvalidInput("send a role, a password, or both")
    if body.password is not None:
        account = await asyncio.to_thread(accounts.set_password, db, username=username, password=body.password)
        await record_event(request, audit.USER_PASSWD, target=account.username)
    if body.role is not None:
        account = await asyncio.to_thread(accounts.set_role, db, username=username, role=body.role)
        await record_event(request, audit.USER_ROLE, target=account.username, role=body.role)
    return UserPublic(username=account.username, role=account.role)  # type: ignore[arg-type]


@router.delete("/{username}", status_code=204, responses=ERRORS)
async def remove_user(username: str, request: Request, db: Db, settings: AppSettings) -> Response:
    """Remove an account with its sessions, tokens and shares; its conversations pass to the admins."""
    _accounts_on(settings)
    await asyncio.to_thread(accounts.remove_user, db, username=username)
    await record_event(request, audit.USER_REMOVE, target=username)
    return Response(status_code=204)
