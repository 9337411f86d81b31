"""Record an audit event from a route: who (the request's principal), what, and from where.

Call it after the change succeeded::

    await record_event(request, audit.CONVERSATION_DELETE, target=conversation_id)
    await record_event(request, audit.LOGIN_FAILURE, actor=username)  # nobody is logged in yet

An explicit ``actor`` is a name the client typed, not one the server checked: it is kept only
if it could be a username (`logged_name`), else replaced by a fixed marker and a short hash, so
no control characters, formulas or forged-looking lines reach the log.

Keyword arguments other than ``target``, ``actor`` and ``actor_id`` become the entry's detail:
plain JSON facts, never secrets (``storage.audit`` refuses keys such as password or token).
A failure to record is not swallowed: an audit log that silently misses events is worse than a
request that reports an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Final

from fastapi import Request

from arena.storage import audit
from arena.storage.accounts import USERNAME_PATTERN
from arena.storage.auth_models import USERNAME_MAX_LENGTH
from arena.web.auth.principal import Principal, client_ip
from arena.web.middleware import parse_ip
from arena.web.observability.hooks import observe_audit

logger = logging.getLogger(__name__)
ANONYMOUS = "anonymous"
# ":" is never in a username, so the marker cannot be mistaken for an account.
NOT_A_NAME: Final = "invalid-name:"


def logged_name(typed: str) -> str:
    """What the log keeps of a name a client typed: the name if it could be a username, else
    `NOT_A_NAME` and 10 hex digits of its SHA-256 (the same text always gives the same entry)."""
    if len(typed) <= USERNAME_MAX_LENGTH and USERNAME_PATTERN.fullmatch(typed):  # fullmatch: no trailing newline
        return typed
    return NOT_A_NAME + hashlib.sha256(typed.encode("utf-8", "surrogatepass")).hexdigest()[:10]


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
    else:
        actor = logged_name(actor)
    # Only a parsed address is kept (None when the server was not told one), never a header's text.
    ip = parse_ip(principal.client_ip if principal is not None else client_ip(request))
    entry = await asyncio.to_thread(
        audit.record,
        request.app.state.database,
        actor_id=actor_id,
        actor=actor,
        action=action,
        target=target,
        ip=ip,
        detail=detail,
    )
    # The log line links the entry to this request's id (and so to its other log lines).
    logger.info("audit entry %d: %s", entry.id, action, extra={"audit_id": entry.id, "action": action})
    await observe_audit(request, action, actor=actor, actor_id=actor_id, ip=ip)
