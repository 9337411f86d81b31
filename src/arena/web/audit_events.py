"""Record an audit event from a route: who (the request's principal), what, and from where.

Call it after the change succeeded::

    await record_event(request, audit.CONVERSATION_DELETE, target=conversation_id)
    await record_event(request, audit.LOGIN_FAILURE, actor=username)  # nobody is logged in yet

Keyword arguments other than ``target``, ``actor`` and ``actor_id`` become the entry's detail:
plain JSON facts, never secrets (``storage.audit`` refuses keys such as password or token).
A failure to record is not swallowed: an audit log that silently misses events is worse than a
request that reports an error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request

from arena.storage import audit
from arena.web.auth.principal import Principal, client_ip
from arena.web.middleware import parse_ip

ANONYMOUS = "anonymous"


async def record_event(
    request: Request,
    action: str,
    *,
    target: str | None = None,
    actor: str | None = None,
    actor_id: int | None = None,
    **detail: Any,
) -> None:
    """Append one entry for this request, in a worker thread (the database call blocks)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if actor is None:
        actor = principal.username if principal is not None else ANONYMOUS
        actor_id = principal.user_id if principal is not None else actor_id
    # Only a parsed address is kept (None when the server was not told one), never a header's text.
    ip = parse_ip(principal.client_ip if principal is not None else client_ip(request))
    await asyncio.to_thread(
        audit.record,
        request.app.state.database,
        actor_id=actor_id,
        actor=actor,
        action=action,
        target=target,
        ip=ip,
        detail=detail,
    )
