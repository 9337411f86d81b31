"""Single sign-on through the team's identity provider (OpenID Connect), beside local accounts.

    GET /auth/oidc/login?next=/path   a new login: the browser goes to the provider
    GET /auth/oidc/callback           the provider sends it back: checked, then a session starts

A login's state, nonce and PKCE verifier are stored (``storage/oidc.py``) for ten minutes and
bound to the browser that started it by a cookie of its own (SameSite=Lax, so that it comes
back on the provider's redirect), kept only as a hash: a callback with another state, from
another browser, or used twice is refused. The cookie's value is new at every login start,
never one the browser brought (else an attacker who planted a value could finish a login of
theirs in the victim's browser), and over https it is ``__Host-`` prefixed, so that neither a
subdomain nor a plain-http page can plant it. A start must be a top-level navigation (a page
cannot fire it as an image or a fetch) and is counted per address in a window of its own (the
ARENA_RATE_LIMIT_LOGIN rate, another key), so that starts never spend the password budget; a
callback counts against the address's login budget, and is audited only when it carries a state
we issued, so made-up states cannot fill the audit log. The session cookie itself is SameSite=Strict, which
a browser withholds on a redirect chain that began at another site; so a successful callback
answers with a small page of ours that moves on to `next` from this site.

Failures answer 4xx (502 when the provider cannot be reached) with `{"error": …}`; a browser
is sent on to /login, which says why (`web/auth/oidc_messages.py`), rather than left on the
callback URL. Each refusal is audited as ``login.sso_refused`` (the provider's sub and name when
it told them): not a wrong password, so neither the password metrics nor the login-burst alert
count it. A provider that cannot be reached refuses nobody: it is one ERROR line in the log,
until it answers again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from arena import accounts
from arena.storage import audit
from arena.storage import oidc as store
from arena.web.audit_events import record_event
from arena.web.auth import oidc_accounts, oidc_messages
from arena.web.auth.authentication import LOGIN_BUCKET, login_rate_key
from arena.web.auth.limits import enforce_login_rate_limit
from arena.web.auth.oidc_claims import wanted_name
from arena.web.auth.oidc_client import OidcClient, OidcRefused
from arena.web.auth.principal import SESSION_COOKIE, Principal, client_ip, set_session_cookie
from arena.web.auth.refusals import too_many_requests
from arena.web.deps import AppSettings, Db
from arena.web.routes.pages import PAGE_HEADERS, safe_next, templates

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/auth/oidc", tags=["accounts"], include_in_schema=False)

FLOW_COOKIE: Final = "arena_oidc"  # over plain http, where a __Host- cookie cannot be set
SECURE_FLOW_COOKIE: Final = "__Host-" + FLOW_COOKIE  # over https: Secure, Path=/, no Domain
FLOW_COOKIE_PATH: Final = "/auth/oidc"
CALLBACK_PATH: Final = "/auth/oidc/callback"
NOT_THIS_LOGIN: Final = (
    "This sign-in is unknown, expired or was started in another browser: sign in again from this page"
)


def _client(request: Request) -> OidcClient:
    settings = request.app.state.settings
    if not settings.oidc_enabled:
        raise HTTPException(status_code=404, detail="Single sign-on is not configured (ARENA_OIDC_ISSUER)")
    client = getattr(request.app.state, "oidc_client", None)
    if client is None:  # one per app: it caches the provider's discovery document and keys
        client = request.app.state.oidc_client = OidcClient(settings)
    return client


def redirect_uri(request: Request) -> str:
    """ARENA_PUBLIC_URL's callback when set; otherwise this request's own scheme and host (a
    trusted proxy's X-Forwarded-Proto/-Host already applied, an unknown Host already refused)."""
    public_url = request.app.state.settings.public_url
    if public_url:
        return public_url + CALLBACK_PATH
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def flow_cookie(request: Request) -> tuple[str, str]:
    """The flow cookie's name and path for this request's scheme (a trusted proxy's applied)."""
    if request.url.scheme == "https":
        return SECURE_FLOW_COOKIE, "/"  # the prefix requires Path=/
    return FLOW_COOKIE, FLOW_COOKIE_PATH


def _browser_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _refused(request: Request, status: int, message: str, code: str, next_path: str = "/") -> Response:
    """A browser goes to the login page, which says why (`code`) and offers to sign in again; a
    script gets the status and `message` as JSON."""
    if "text/html" not in request.headers.get("accept", ""):
        raise HTTPException(status_code=status, detail=message)
    return RedirectResponse("/login?" + urlencode({"next": next_path, "sso": code}), status_code=303)


async def _audit_refusal(
    request: Request, reason: str, *, claims: Mapping[str, Any] | None = None, actor: str | None = None, **detail: Any
) -> None:
    """One ``login.sso_refused`` entry: who the provider said it was (never a token), and why."""
    if claims is not None:
        detail = {
            "sub": str(claims.get("sub", ""))[:255],
            "name": wanted_name(claims, request.app.state.settings),
            **detail,
        }
    await record_event(request, audit.LOGIN_SSO_REFUSED, actor=actor, via="oidc", reason=reason, **detail)


async def _provider_failed(request: Request, refused: OidcRefused, next_path: str) -> Response:
    """The provider answered no (audited), or could not be asked: an outage refuses nobody, so it
    is an ERROR in the log, once until the provider answers again, and no audit entry."""
    if refused.status < 500:
        await _audit_refusal(request, refused.reason)
        return _refused(request, refused.status, str(refused), oidc_messages.PROVIDER_SAID_NO, next_path)
    if not getattr(request.app.state, "oidc_outage", False):
        request.app.state.oidc_outage = True
        logger.error("single sign-on: %s (%s); logged again only after it has answered", refused, refused.reason)
    return _refused(request, refused.status, str(refused), oidc_messages.UNREACHABLE, next_path)


def _provider_answered(request: Request) -> None:
    request.app.state.oidc_outage = False


def require_navigation(request: Request) -> None:
    """A start is a person clicking "Sign in": a top-level navigation. Browsers say what a request
    is for (Fetch Metadata); one for an image, a script or a fetch is some page firing it."""
    dest = request.headers.get("sec-fetch-dest")
    mode = request.headers.get("sec-fetch-mode")
    if (dest is not None and dest != "document") or (mode is not None and mode != "navigate"):
        raise HTTPException(status_code=403, detail="A sign-in starts only from a link or the address bar")


async def enforce_start_rate_limit(request: Request) -> None:
    """Starts per address, in a window of their own: a start guesses nothing, so it must not
    spend the budget of password and token attempts (else any page could lock an office out)."""
    key = "oidc-start:" + login_rate_key(request)
    refusal = await request.app.state.rate_limits.hit(LOGIN_BUCKET, key)
    if refusal is not None:
        raise too_many_requests(
            f"Too many sign-ins started: the limit is {refusal.limit_text}; try again in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
            bucket=LOGIN_BUCKET,
        )


@router.get("/login", dependencies=[Depends(require_navigation), Depends(enforce_start_rate_limit)])
async def start_oidc_login(request: Request, db: Db, next: str | None = None) -> Response:
    """Send the browser to the identity provider, with a fresh state, nonce and PKCE challenge."""
    client = _client(request)
    next_path = safe_next(next)
    callback = redirect_uri(request)
    try:
        started = await client.authorize(callback)
    except OidcRefused as refused:
        return await _provider_failed(request, refused, next_path)
    _provider_answered(request)
    # Always a new value: one the browser sent may have been planted by an attacker. (A login
    # started in another tab meanwhile must be started again.)
    browser = secrets.token_urlsafe(32)
    await asyncio.to_thread(
        _store_login,
        db,
        started.state,
        _browser_hash(browser),
        started.nonce,
        started.code_verifier,
        callback,
        next_path,
    )
    response = RedirectResponse(started.url, status_code=303)
    name, path = flow_cookie(request)
    response.set_cookie(
        name,
        browser,
        max_age=int(store.LOGIN_TTL.total_seconds()),
        path=path,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back; never on a cross-site POST
        secure=request.url.scheme == "https",
    )
    return response


def _store_login(
    db: Db, state: str, browser_hash: str, nonce: str, verifier: str, callback: str, next_path: str
) -> None:
    with db.session() as session:
        store.add_login(
            session,
            state=state,
            browser_hash=browser_hash,
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=callback,
            next_path=next_path,
        )


def _take_login(db: Db, state: str) -> store.OidcLogin | None:
    with db.session() as session:
        return store.take_login(session, state=state)


@router.get("/callback", dependencies=[Depends(enforce_login_rate_limit)])
async def finish_oidc_login(
    request: Request,
    db: Db,
    settings: AppSettings,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    """Check the provider's answer and start an arena session for the account of (issuer, sub)."""
    client = _client(request)
    login = await asyncio.to_thread(_take_login, db, state[:64]) if state else None
    if login is None:  # a state we never issued (or expired, or used): refused, not audited
        return _refused(request, 400, NOT_THIS_LOGIN, oidc_messages.NOT_THIS_LOGIN)
    browser = request.cookies.get(flow_cookie(request)[0], "")
    if not secrets.compare_digest(login.browser_hash, _browser_hash(browser)):
        # Our state in another browser: a forwarded or stolen callback URL, worth an entry.
        await _audit_refusal(request, "state")
        return _refused(request, 400, NOT_THIS_LOGIN, oidc_messages.NOT_THIS_LOGIN)
    if error or not code:
        shown = error[:64] if re.fullmatch(r"[A-Za-z0-9_.-]+", error[:64]) else "no code"
        await _audit_refusal(request, f"provider: {shown}")
        message = f"The identity provider did not sign you in ({shown})"
        return _refused(request, 403, message, oidc_messages.PROVIDER_SAID_NO, login.next_path)
    try:
        claims = await client.claims(
            code=code, redirect_uri=login.redirect_uri, code_verifier=login.code_verifier, nonce=login.nonce
        )
    except OidcRefused as refused:
        return await _provider_failed(request, refused, login.next_path)
    _provider_answered(request)
    outcome = await asyncio.to_thread(oidc_accounts.sign_in, db, settings=settings, claims=claims)
    if outcome.account is None:
        ended = outcome.ended
        await _audit_refusal(
            request,
            "required claim missing",
            claims=claims,
            actor=outcome.known_as,
            sessions_ended=ended.sessions if ended else 0,
            api_tokens_ended=ended.tokens if ended else 0,
        )
        message = oidc_messages.message(oidc_messages.NOT_IN_GROUP, provider=settings.oidc_name)
        return _refused(request, 403, message or "", oidc_messages.NOT_IN_GROUP, login.next_path)
    return await _signed_in(request, db, settings, outcome, login.next_path)


async def _signed_in(
    request: Request, db: Db, settings: AppSettings, outcome: oidc_accounts.SignIn, next_path: str
) -> Response:
    account = outcome.account
    assert account is not None
    ip = client_ip(request)
    started = await asyncio.to_thread(
        accounts.start_session, db, account=account, ip=ip, replaces=request.cookies.get(SESSION_COOKIE)
    )
    request.state.principal = Principal.of_account(account, via="session", client_ip=ip, csrf_token=started.csrf_token)
    if outcome.created:
        await record_event(request, audit.USER_ADD, target=account.username, role=account.role, via="oidc")
    if outcome.role_before is not None:
        await record_event(
            request, audit.USER_ROLE, target=account.username, before=outcome.role_before, role=account.role, via="oidc"
        )
    await record_event(request, audit.LOGIN_SUCCESS, via="oidc")
    if "text/html" in request.headers.get("accept", ""):
        context = {"page": None, "next_path": next_path, "username": account.username}
        response: Response = templates.TemplateResponse(request, "oidc_continue.html", context, headers=PAGE_HEADERS)
    else:
        response = Response(status_code=204)
    set_session_cookie(response, request, cookie=started.cookie, max_hours=settings.session_max_hours)
    return response


async def end_session_url(request: Request, principal: Principal) -> str | None:
    """For logout: the provider's end-session URL when this user signed in through it, else None."""
    settings = request.app.state.settings
    if not settings.oidc_enabled or principal.user_id is None:
        return None
    database = request.app.state.database
    if not await asyncio.to_thread(oidc_accounts.is_sso_account, database, user_id=principal.user_id):
        return None
    back = (settings.public_url or str(request.base_url).rstrip("/")) + "/login"
    return await _client(request).end_session_url(post_logout_redirect_uri=back)
