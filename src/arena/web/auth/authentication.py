"""How a request becomes a `Principal`: the shared bearer token (mode token), personal API
tokens and session cookies with their CSRF header (mode users), or nobody asked (mode none).

A bearer token is a password a script sends. A right one is compared first and passes whatever
others at its address did (an API token is 256 random bits: answering it is no oracle worth
having). A wrong one counts against the address's login limit (`ARENA_RATE_LIMIT_LOGIN`, shared
with the login route), atomically, so a burst gets at most the limit's 401s (audited) and 429 for
the rest. A short WEB_CHAT_TOKEN (may be a word) is the exception: past the limit nothing from
the address is compared, right or wrong, so guessing it runs no faster than guessing passwords.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any, Final

from fastapi import HTTPException, Request

from arena import accounts
from arena.settings import Settings
from arena.storage import audit
from arena.web.auth.principal import CSRF_HEADER, SESSION_COOKIE, Principal, client_ip
from arena.web.auth.refusals import TooManyRequests
from arena.web.middleware import UNSAFE_METHODS, parse_ip

# The rate-limit bucket of failed logins and failed bearer tokens, counted per address.
LOGIN_BUCKET: Final = "login"
# A shared WEB_CHAT_TOKEN shorter than this may be guessable: it is warned about at start-up,
# and it is not compared at all once its address's login limit is spent.
SHORT_TOKEN_CHARS: Final = 24

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


def login_rate_key(request: Request) -> str:
    """Whose login budget a request spends: its address's (the caller is nobody yet)."""
    return f"ip:{client_ip(request)}"


def _too_many(refusal: Any) -> TooManyRequests:
    return TooManyRequests(
        f"Too many failed logins or tokens from this address: the limit is {refusal.limit_text}; "
        f"try again in {refusal.retry_after} s",
        retry_after=refusal.retry_after,
        bucket=LOGIN_BUCKET,
    )


async def _hold_a_guess(request: Request) -> Any:
    """Before a short shared token is compared: hold a place in the address's login budget (so a
    burst cannot all be compared before any failure is counted), or 429 when it is spent (503 when
    the shared state that counts it, Redis, is unreachable)."""
    held = await request.app.state.rate_limits.reserve(LOGIN_BUCKET, login_rate_key(request))
    if held.refusal is not None:
        raise _too_many(held.refusal)
    return held


async def _refused_token(request: Request, *, reason: str, message: str, held: Any = None) -> HTTPException:
    """A wrong bearer token: counted against the address (its place `held`, if one was), then
    audited (never the token) and 401; 429 when the address's budget was already spent."""
    if held is not None:
        await held.settle(counted=True)
    else:
        # One atomic count per failure: in a burst, only as many as the limit get past this.
        refusal = await request.app.state.rate_limits.hit(LOGIN_BUCKET, login_rate_key(request))
        if refusal is not None:
            return _too_many(refusal)
    # As web/audit_events.record_event would (which sits above this package): nobody, from here.
    await asyncio.to_thread(
        audit.record,
        request.app.state.database,
        actor_id=None,
        actor="anonymous",
        action=audit.TOKEN_FAILURE,
        ip=parse_ip(client_ip(request)),
        detail={"reason": reason},
    )
    return _unauthorized(message)


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
        return await _authenticate_shared_token(request, settings.web_chat_token.get_secret_value(), ip)
    return await _authenticate_user(request, settings, ip)


async def _authenticate_shared_token(request: Request, token: str, ip: str) -> Principal:
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthorized(UNAUTHORIZED)  # no header, no guess
    # A long token is compared first, so its holders are never refused for others' failures; a
    # short one only within the budget, so that its right answer tells a guesser nothing extra.
    held = await _hold_a_guess(request) if len(token) < SHORT_TOKEN_CHARS else None
    if not bearer_matches(header, token):
        raise await _refused_token(request, held=held, reason="wrong token", message=UNAUTHORIZED)
    if held is not None:
        await held.settle(counted=False)
    return Principal.local(via="token", client_ip=ip)


async def _authenticate_user(request: Request, settings: Settings, ip: str) -> Principal:
    database = request.app.state.database
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise await _refused_token(request, reason="not a bearer token", message=UNAUTHORIZED)
        # Looked up first: a right token passes whatever the address's login budget says.
        try:
            account = await asyncio.to_thread(accounts.resolve_api_token, database, token=token.strip())
        except accounts.TokenExpired as expired:
            raise await _refused_token(request, reason="expired API token", message=str(expired)) from None
        if account is None:
            raise await _refused_token(request, reason="unknown API token", message="Unknown or revoked API token")
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
