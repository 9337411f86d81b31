"""Accounts: logging in, who am I, personal API tokens, users (admins) and shares (/api/auth,
/api/users, /api/conversations/{id}/shares)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.accounts import MAX_PASSWORD_LENGTH
from arena.storage.auth_models import TOKEN_NAME_MAX_LENGTH, USERNAME_MAX_LENGTH

RoleName = Literal["admin", "evaluator", "viewer"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginCreate(Strict):
    username: str = Field(min_length=1, max_length=USERNAME_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class MePublic(BaseModel):
    username: str
    role: RoleName
    auth_mode: Literal["none", "token", "users"]
    via: Literal["local", "token", "session", "api_token"]
    csrf_token: str | None = Field(None, description="Send it as X-CSRF-Token on every change made with the cookie")


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=TOKEN_NAME_MAX_LENGTH, description="What the token is for")
    days: int | None = Field(
        None, ge=1, le=3650, description="How long it lasts: ARENA_TOKEN_DAYS unless given, at most ARENA_TOKEN_MAX_DAYS"
    )


class TokenPublic(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime = Field(description="It stops working then (or sooner: password or role change, removal)")


class TokenCreatedPublic(TokenPublic):
    token: str = Field(description="Shown this once; only its hash is stored")


class TokenList(BaseModel):
    tokens: list[TokenPublic]


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=USERNAME_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    role: RoleName = "evaluator"


class UserUpdate(Strict):
    role: RoleName | None = None
    password: str | None = Field(None, min_length=1, max_length=MAX_PASSWORD_LENGTH)


class UserPublic(BaseModel):
    username: str
    role: RoleName
    created_at: datetime | None = None
    sso: bool = Field(default=False, description="Signs in through the identity provider, not with a password")


class UserList(BaseModel):
    users: list[UserPublic]


class ShareCreate(Strict):
    username: str = Field(min_length=1, max_length=USERNAME_MAX_LENGTH)


class ShareList(BaseModel):
    usernames: list[str]
