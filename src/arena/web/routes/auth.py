"""Logging in and out, who am I, and personal API tokens (`users` mode)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from arena import accounts
from arena.errors import InvalidInput
from arena.storage import audit
from arena.storage.auth_models import ApiToken
from arena.web.audit_events import record_event
from arena.web.auth.limits import enforce_login_rate_limit
from arena.web.auth.principal import SESSION_COOKIE, Principal, client_ip, set_session_cookie
from arena.web.auth.refusals import TooManyRequests
from arena.web.auth.throttle import LoginLocked
from arena.web.deps import AppSettings, CurrentPrincipal, Db
from arena.web.openapi import error_responses
from arena.web.routes.oidc import end_session_url
from arena.web.schemas.accounts import LoginCreate, MePublic, TokenCreate, TokenCreatedPublic, TokenList, TokenPublic

router = APIRouter(prefix="/api/auth", tags=["accounts"])

ERRORS = error_responses(
    400, 401, 403, 404, 413, 422, 429, 503, e503="Logins wait while the shared state (ARENA_REDIS_URL) is unreachable"
)
WRONG_LOGIN = "Wrong username or password"


def _me(principal: Principal, auth_mode: str) -> MePublic:
    return MePublic(
        username=principal.username,
        role=principal.role,
        auth_mode=auth_mode,  # type: ignore[arg-type]
        via=principal.via,
        csrf_token=principal.csrf_token,
    )


def _token(row: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=row.id, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at, expires_at=row.expires_at
    )


def _accounts_on(settings: AppSettings, what: str) -> None:
    if settings.auth_mode != "users":
        raise InvalidInput(f"{what} needs accounts: start the arena with ARENA_AUTH_MODE=users")


@router.post("/login", response_model=MePublic, responses=ERRORS, dependencies=[Depends(enforce_login_rate_limit)])
async def login(body: LoginCreate, request: Request, response: Response, db: Db, settings: AppSettings) -> MePublic:
    """Check a password and start a browser session (an HttpOnly, SameSite=Strict cookie)."""
    _accounts_on(settings, "logging in")
    throttle = request.app.state.login_throttle
    ip = client_ip(request)
    try:
        # Counted as a failure before the password is looked at, so a burst cannot slip past together.
        attempt = await asyncio.to_thread(throttle.reserve, body.username, ip)
    except LoginLocked as exc:
        raise TooManyRequests(str(exc), retry_after=exc.retry_after, bucket="login_throttle") from None
    account = await asyncio.to_thread(accounts.verify_password, db, username=body.username, password=body.password)
    if account is None:
        await record_event(request, audit.LOGIN_FAILURE, actor=body.username)
        raise HTTPException(status_code=401, detail=WRONG_LOGIN)
    await asyncio.to_thread(throttle.succeeded, attempt)
    started = await asyncio.to_thread(
        accounts.start_session, db, account=account, ip=ip, replaces=request.cookies.get(SESSION_COOKIE)
    )
    set_session_cookie(response, request, cookie=started.cookie, max_hours=settings.session_max_hours)
    principal = Principal.of_account(account, via="session", client_ip=ip, csrf_token=started.csrf_token)
    request.state.principal = principal
    await record_event(request, audit.LOGIN_SUCCESS)
    return _me(principal, settings.auth_mode)


@router.post("/logout", status_code=204, responses=ERRORS)
async def logout(request: Request, principal: CurrentPrincipal, db: Db) -> Response:
    """End this browser session on the server; the cookie is worthless from now on.

    A user who signed in through the identity provider gets 200 `{"end_session_url": …}`
    instead when the provider offers an end-session endpoint: the page goes there next."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.via != "session" or not cookie:
        raise InvalidInput("only a browser session can log out; revoke an API token with DELETE /api/auth/tokens/{id}")
    await asyncio.to_thread(accounts.end_session, db, cookie=cookie)
    await record_event(request, audit.LOGOUT)
    provider_logout = await end_session_url(request, principal)
    response = JSONResponse({"end_session_url": provider_logout}) if provider_logout else Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=MePublic, responses=ERRORS)
async def who_am_i(principal: CurrentPrincipal, settings: AppSettings) -> MePublic:
    """Your name, role and, for a browser session, the CSRF token its changes must carry."""
    return _me(principal, settings.auth_mode)


@router.get("/tokens", response_model=TokenList, responses=ERRORS)
async def list_tokens(principal: CurrentPrincipal, db: Db, settings: AppSettings) -> TokenList:
    """Your API tokens (never the tokens themselves)."""
    _accounts_on(settings, "API tokens")
    rows = await asyncio.to_thread(accounts.list_api_tokens, db, account=principal.account())
    return TokenList(tokens=[_token(row) for row in rows])


@router.post("/tokens", status_code=201, response_model=TokenCreatedPublic, responses=ERRORS)
async def create_token(
    body: TokenCreate, request: Request, principal: CurrentPrincipal, db: Db, settings: AppSettings
) -> TokenCreatedPublic:
    """A new API token for scripts, with your role: `Authorization: Bearer <token>`. Shown once.

    It ends after `days` (default `ARENA_TOKEN_DAYS`), or sooner when your password or role
    changes or your account is removed."""
    _accounts_on(settings, "API tokens")
    token, row = await asyncio.to_thread(
        accounts.issue_api_token,
        db,
        account=principal.account(),
        name=body.name,
        days=body.days or settings.token_days,
        max_days=settings.token_max_days,
    )
    await record_event(request, audit.TOKEN_CREATE, target=str(row.id), name=row.name, expires_at=row.expires_at.isoformat())
    return TokenCreatedPublic(**_token(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", status_code=204, responses=ERRORS)
async def revoke_token(
    token_id: int, request: Request, principal: CurrentPrincipal, db: Db, settings: AppSettings
) -> Response:
    """Revoke one of your API tokens; it stops working at once."""
    _accounts_on(settings, "API tokens")
    await asyncio.to_thread(accounts.revoke_api_token, db, account=principal.account(), token_id=token_id)
    await record_event(request, audit.TOKEN_REVOKE, target=str(token_id))
    return Response(status_code=204)

