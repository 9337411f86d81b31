"""A token double: an OpenID provider that signs the ID tokens a real provider never would.

For the cases `oidc-provider-mock` cannot produce: an ID token for another audience, with a
wrong nonce or issuer, signed by a key that is not in the JWKS, or a discovery document that
puts the token endpoint on another origin. It speaks just enough of the protocol: discovery,
JWKS, an authorization endpoint that redirects straight back with a code, and a token endpoint
that checks the PKCE verifier (S256) and the redirect URI like a real one.

    with token_double() as idp:
        idp.id_token_claims = {"aud": "someone-else"}   # overrides for the next ID token
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.server import serving


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str


@dataclass
class TokenDouble:
    url: str = ""
    id_token_claims: dict[str, Any] = field(default_factory=dict)  # overrides, None deletes a claim
    sign_with_unknown_key: bool = False
    token_endpoint: str | None = None  # default: its own
    claims: dict[str, Any] = field(default_factory=lambda: {"sub": "double-user", "preferred_username": "dora"})
    token_requests: int = 0
    client_auth: list[str] = field(default_factory=list)  # the Authorization header of each token request
    _codes: dict[str, _Code] = field(default_factory=dict)
    _key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    _other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))

    def authorize(self, authorize_url: str, sub: str) -> str:
        """The double logs `sub` in at once: its redirect back to the client."""
        self.claims["sub"] = sub
        response = httpx.get(authorize_url, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    async def _discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": self.token_endpoint or f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse(KeySet([self._key]).as_dict(private=False))

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        code = secrets.token_urlsafe(16)
        self._codes[code] = _Code(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce", ""),
            challenge=query.get("code_challenge", ""),
        )
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}", 302)

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        self.client_auth.append(request.headers.get("authorization", ""))
        form = await request.form()
        issued = self._codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if issued is None or issued.redirect_uri != form.get("redirect_uri") or digest != issued.challenge:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            **self.claims,
            "iss": self.url,
            "aud": issued.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": issued.nonce,
        }
        claims.update(self.id_token_claims)
        claims = {name: value for name, value in claims.items() if value is not None}
        key = self._other_key if self.sign_with_unknown_key else self._key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token})


@contextmanager
def token_double() -> Iterator[TokenDouble]:
    double = TokenDouble()
    with serving(double.app(), what="the OpenID token double") as url:
        double.url = url
        yield double
