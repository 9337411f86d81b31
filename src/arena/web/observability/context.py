"""The request a log line is about: an id per request, reachable from any code the request runs.

`RequestObserver` (web/observability/requests.py) opens a `RequestContext` per request and puts
it in a context variable; the log formatter reads it for every line. The context holds the
request's own ``state`` dict, so the user is known as soon as authentication has put the
principal there, without code of its own telling the log (contextvars set deeper in a request
would not reach the middleware back).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

REQUEST_ID_HEADER: Final = "X-Request-ID"
# What a proxy's id may look like (nginx's $request_id is 32 hex digits): nothing a log reader could trip on.
_FORWARDED_ID: Final = re.compile(r"[A-Za-z0-9._-]{8,64}")


@dataclass
class RequestContext:
    request_id: str
    method: str
    state: dict[str, Any] = field(default_factory=dict)  # the request's scope["state"]
    route: str | None = None

    @property
    def user(self) -> str | None:
        principal = self.state.get("principal")
        return getattr(principal, "username", None)


_current: ContextVar[RequestContext | None] = ContextVar("arena_request", default=None)


def current() -> RequestContext | None:
    """The request being served by this task, or None outside any request."""
    return _current.get()


def current_request_id() -> str:
    """This request's id, or a fresh one when no request is being served (a background task)."""
    context = _current.get()
    return context.request_id if context is not None else new_request_id()


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def forwarded_request_id(value: str | None) -> str | None:
    """A proxy's X-Request-ID, if it looks like an id; else None (a fresh one is made)."""
    return value if value is not None and _FORWARDED_ID.fullmatch(value) else None


def enter(context: RequestContext) -> object:
    return _current.set(context)


def leave(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
