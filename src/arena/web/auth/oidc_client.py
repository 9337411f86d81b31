"""The OpenID Connect relying party, built on Authlib: discovery, the authorization-code flow with
PKCE (S256), the token exchange and the ID token's checks (signature by the provider's JWKS,
issuer, audience, expiry, nonce, at_hash).

Every request to the provider (discovery document, keys, token endpoint) goes through the
arena's one egress policy narrowed to the issuer's origin, with no redirects followed and no
proxy variables read: an endpoint the discovery document puts on another origin is refused.
Where the login state lives (which browser started it, the nonce, the verifier) is the route's
business (``routes/oidc.py``); this module only speaks to the provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.starlette_client import StarletteIntegration, StarletteOAuth2App
from joserfc.errors import ExpiredTokenError, JoseError

from arena.engines.egress import EgressPolicy, Guard
from arena.errors import EngineError
from arena.settings import Settings

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
CLOCK_SKEW_S: Final = 60  # how far the provider's clock may be from ours
TIMEOUT_S: Final = 10.0

# Authlib logs the PKCE verifier at DEBUG: never, whatever ARENA_LOG_LEVEL says.
logging.getLogger("authlib").setLevel(logging.INFO)


class OidcRefused(Exception):
    """The provider could not be asked, or its answer was not good enough to log anyone in.
    `reason` is a short word for the audit log; the message is for the person at the browser."""

    def __init__(self, reason: str, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what its return must match."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class _GuardedTransport(Guard, httpx2.AsyncBaseTransport):
    """The egress guard for Authlib's HTTP library (httpx2)."""


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        policy = EgressPolicy.from_settings(settings).only(self.issuer)
        secret = settings.oidc_client_secret

        def guarded_client(**kwargs: Any) -> AsyncOAuth2Client:
            # A new transport per client: Authlib closes each client (and its transport) after use.
            transport = _GuardedTransport(httpx2.AsyncHTTPTransport(), policy)
            return AsyncOAuth2Client(transport=transport, follow_redirects=False, trust_env=False, timeout=TIMEOUT_S, **kwargs)

        self._app = StarletteOAuth2App(
            StarletteIntegration("arena"),
            name="arena",
            client_id=self.client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            server_metadata_url=self.issuer.rstrip("/") + DISCOVERY_PATH,
            client_kwargs={
                "scope": settings.oidc_scopes,
                "code_challenge_method": "S256",
                # Without a secret the arena is a public client: PKCE alone protects the code.
                "token_endpoint_auth_method": "client_secret_basic" if secret is not None else "none",
            },
        )
        self._app.client_cls = guarded_client  # type: ignore[assignment]

    def __repr__(self) -> str:  # the secret stays out of every repr and log line
        return f"OidcClient(issuer={self.issuer!r}, client_id={self.client_id!r})"

    async def _metadata(self) -> dict[str, Any]:
        try:
            metadata = await self._app.load_server_metadata()
        except (httpx2.HTTPError, EngineError, ValueError) as exc:
            raise _unreachable(exc) from None
        if metadata.get("issuer") != self.issuer:
            # OpenID Connect Discovery 4.3: the document must name exactly the issuer configured.
            self._app.server_metadata.clear()
            raise OidcRefused(
                "discovery", "The identity provider's discovery document names another issuer", status=502
            )
        return metadata

    async def authorize(self, redirect_uri: str) -> Authorization:
        """A fresh state, nonce and PKCE verifier (Authlib's), and the provider's URL carrying them."""
        await self._metadata()
        try:
            started = await self._app.create_authorization_url(redirect_uri)
        except (httpx2.HTTPError, EngineError, RuntimeError) as exc:
            raise _unreachable(exc) from None
        return Authorization(
            url=started["url"], state=started["state"], nonce=started["nonce"], code_verifier=started["code_verifier"]
        )

    async def claims(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code (with the verifier and the same redirect URI) and return the verified
        ID token's claims."""
        await self._metadata()
        try:
            token = await self._app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
            )
        except OAuthError as exc:
            raise OidcRefused("token", f"The identity provider refused the login ({exc.error})") from None
        except (httpx2.HTTPError, EngineError, ValueError) as exc:
            raise _unreachable(exc) from None
        options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "values": [self.client_id]},
            "sub": {"essential": True},
        }
        try:
            claims = await self._app.parse_id_token(token, nonce=nonce, claims_options=options, leeway=CLOCK_SKEW_S)
        except ExpiredTokenError:
            raise OidcRefused("id_token expired", "The identity provider's ID token has expired: sign in again") from None
        except JoseError as exc:
            detail = f"{exc.error}: {exc.description}" if exc.description else exc.error
            raise OidcRefused(f"id_token {exc.error}", f"The identity provider's ID token was refused ({detail})") from None
        except (httpx2.HTTPError, EngineError, ValueError) as exc:
            raise _unreachable(exc) from None
        if claims is None:
            raise OidcRefused("id_token missing", "The identity provider sent no ID token: is the openid scope allowed?")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 255:
            raise OidcRefused("id_token sub", "The identity provider's ID token has no usable subject (sub)")
        return dict(claims)

    async def end_session_url(self, *, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session URL (RP-initiated logout), or None when it offers none or
        cannot be asked now (the arena's own session ends either way)."""
        try:
            metadata = await self._metadata()
            if not metadata.get("end_session_endpoint"):
                return None
            logout = await self._app.create_logout_url(
                post_logout_redirect_uri=post_logout_redirect_uri, client_id=self.client_id
            )
        except (OidcRefused, RuntimeError):
            return None
        return str(logout["url"])


def _unreachable(exc: BaseException) -> OidcRefused:
    # The exception's text may name an internal URL, never a secret; kept short for the page.
    return OidcRefused(
        "provider unreachable", f"The identity provider cannot be reached ({type(exc).__name__})", status=502
    )
