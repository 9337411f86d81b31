"""Who is asking: the `Principal` every request becomes, and the roles it may hold.

How a request becomes one is `authentication.py`'s job; the route dependencies that ask for a
role (`Viewer`, `Evaluator`, `Admin`) are in `arena.web.deps`.

Auth modes (``ARENA_AUTH_MODE``):
- ``none``: one local user with every right; the server refuses a non-loopback bind.
- ``token``: the same local user, proven by ``Authorization: Bearer $WEB_CHAT_TOKEN``.
- ``users``: accounts; a browser proves itself with the session cookie (plus the CSRF header on
  changes), a script with a personal API token as a bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from fastapi import Request, Response

from arena.accounts import Account
from arena.web.middleware import parse_ip

Role = Literal["viewer", "evaluator", "admin"]
Via = Literal["local", "token", "session", "api_token"]
ROLE_RANK: Final[dict[str, int]] = {"viewer": 0, "evaluator": 1, "admin": 2}
SESSION_COOKIE: Final = "arena_session"
CSRF_HEADER: Final = "x-csrf-token"


@dataclass(frozen=True)
class Principal:
    """The caller. ``user_id`` is None for the single local user of modes none and token."""

    user_id: int | None
    username: str
    role: Role
    via: Via
    client_ip: str
    csrf_token: str | None = None  # the session's, when authenticated by cookie

    @classmethod
    def of_account(cls, account: Account, *, via: Via, client_ip: str, csrf_token: str | None = None) -> Principal:
        return cls(
            user_id=account.id,
            username=account.username,
            role=account.role,  # type: ignore[arg-type]  # the database's check constraint keeps it one of ROLES
            via=via,
            client_ip=client_ip,
            csrf_token=csrf_token,
        )

    @classmethod
    def local(cls, *, via: Via, client_ip: str) -> Principal:
        """The one user of modes none and token: the machine's owner, with every right."""
        return cls(user_id=None, username="local", role="admin", via=via, client_ip=client_ip)

    def account(self) -> Account:
        if self.user_id is None:
            raise ValueError("the local user has no account")
        return Account(id=self.user_id, username=self.username, role=self.role)

    def has_role(self, needed: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]

    @property
    def is_account(self) -> bool:
        return self.user_id is not None

    @property
    def rate_key(self) -> str:
        """Rate limits count per user, or per address when there are no accounts."""
        return f"user:{self.user_id}" if self.user_id is not None else f"ip:{self.client_ip}"


UNKNOWN_CLIENT: Final = "unknown"


def client_ip(request: Request) -> str:
    """The caller's address: the socket's peer, or the client a trusted proxy forwarded
    (`ForwardedHeaders` has already put it in the request). Always a parsed IP address, or
    "unknown" when the server was not told one; never a header's raw text."""
    return (parse_ip(request.client.host) if request.client else None) or UNKNOWN_CLIENT


def set_session_cookie(response: Response, request: Request, *, cookie: str, max_hours: int) -> None:
    """The one way a login (password or single sign-on) hands its session to the browser: never
    to a script, never cross-site, and only over https once the arena is served over https."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_hours * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
