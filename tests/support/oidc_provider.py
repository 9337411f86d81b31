"""A real OpenID Connect provider on loopback: `oidc-provider-mock` (Authlib's provider side, with
discovery, JWKS, the authorization and token endpoints, userinfo and end-session), run in a thread.

    with oidc_provider() as idp:
        idp.set_user("alice-sub", preferred_username="alice", groups=["arena-users"])
        location = idp.authorize(authorize_url, "alice-sub")   # the provider's redirect back

Its login form asks only for a `sub`: whoever types one is that user, with the claims last set for
it by `set_user` (all of them go into the ID token). `host` is the name in the issuer URL:
"localhost" puts the provider on another site than an arena at 127.0.0.1, as a real one is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import oidc_provider_mock
import werkzeug.serving


@dataclass
class Provider:
    issuer: str

    def set_user(self, sub: str, **claims: Any) -> None:
        """The claims the provider gives `sub` from its next login on (replacing earlier ones)."""
        response = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Log `sub` in at the provider's form, as a browser would; the redirect back to the client."""
        response = httpx.post(authorize_url, data={"sub": sub}, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["location"]


class _QuietHandler(werkzeug.serving.WSGIRequestHandler):
    def log_request(self, *_args: Any) -> None:  # one line per request on stderr: noise in a test run
        pass


@contextmanager
def oidc_provider(*, host: str = "127.0.0.1", token_max_age: timedelta = timedelta(hours=1)) -> Iterator[Provider]:
    """`token_max_age` below zero makes it issue ID tokens that have already expired."""
    app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=token_max_age)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Provider(issuer=f"http://{host}:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Authorizer(Protocol):
    def authorize(self, authorize_url: str, sub: str) -> str: ...


def sso_login(
    client: httpx.Client, provider: Authorizer, sub: str, *, next_path: str = "/", accept: str = "text/html"
) -> httpx.Response:
    """A whole login through the arena and the provider, as a browser makes it (the client holds
    the cookies); the arena's answer to the provider's redirect back, asked with `accept` (a
    browser's refusal is a redirect to /login; a script's, the status and a JSON reason)."""
    start = client.get("/auth/oidc/login", params={"next": next_path}, headers={"accept": "text/html"})
    assert start.status_code == 303, start.text
    return client.get(provider.authorize(start.headers["location"], sub), headers={"accept": accept})
