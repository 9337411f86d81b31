"""How a request becomes a `Principal`: the shared bearer token (mode token), personal API
tokens and session cookies with their CSRF header (mode users), or nobody asked (mode none)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

from fastapi import HTTPException, Request

from arena import accounts
from arena.settings import Settings
from arena.web.auth.principal import CSRF_HEADER, SESSION_COOKIE, Principal, client_ip
from arena.web.middleware import UNSAFE_METHODS

UNAUTHORIZED = "Missing or invalid Authorization header"
LOGIN_FIRST = "Log in first (POST /api/auth/login), or send an API token as Authorization: Bearer <token>"
CSRF_REFUSED = "Missing or wrong X-CSRF-Token header: reload the page and try again"


def bearer_matches(header: str | None, token: str) -> bool:
    """Constant-time comparison of `Authorization: Bearer <token>`."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        # Still compare, so a missing header costs the same as a wrong one.
        secrets.compare_digest(token.encode(), b"x" * len(token.encode()))
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(request: Request) -> Principal:
    """Resolve the caller once per request (FastAPI caches it) and keep it on request.state."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await authenticate(request)
    request.state.principal = principal
    return principal


async def authenticate(request: Request) -> Principal:
    settings: Settings = request.app.state.settings
    ip = client_ip(request)
    if settings.auth_mode == "none":
        return Principal.local(via="local", client_ip=ip)
    if settings.auth_mode == "token":
        assert settings.web_chat_token is not None  # Settings refuses token mode without one
        if not bearer_matches(request.headers.get("authorization"), settings.web_chat_token.get_secret_value()):
            raise _unauthorized(UNAUTHORIZED)
        return Principal.local(via="token", client_ip=ip)
    return await _authenticate_user(request, settings, ip)


async def _authenticate_user(request: Request, settings: Settings, ip: str) -> Principal:
    database = request.app.state.database
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(UNAUTHORIZED)
        try:
            account = await asyncio.to_thread(accounts.resolve_api_token, database, token=token.strip())
        except accounts.TokenExpired as expired:
            raise _unauthorized(str(expired)) from None
        if account is None:
            raise _unauthorized("Unknown or revoked API token")
        # A bearer token is never sent by a browser on its own, so it needs no CSRF token.
        return Principal.of_account(account, via="api_token", client_ip=ip)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise _unauthorized(LOGIN_FIRST)
    state = await asyncio.to_thread(
        accounts.resume_session,
        database,
        cookie=cookie,
        idle=timedelta(minutes=settings.session_idle_minutes),
        max_age=timedelta(hours=settings.session_max_hours),
    )
    if state is None:
        raise _unauthorized("Your session has ended: log in again")
    if request.method.upper() in UNSAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(given.encode(), state.csrf_token.encode()):
            raise HTTPException(status_code=403, detail=CSRF_REFUSED)
    return Principal.of_account(state.account, via="session", client_ip=ip, csrf_token=state.csrf_token)


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None when they have not logged in (pages use it to redirect to /login)."""
    try:
        return await current_principal(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            return None
        raise
