"""Annotated dependencies, so route signatures read like sentences: what the app holds
(`AppSettings`, `ModelRouter`, `Db`), who is asking (`CurrentPrincipal`) and the role a route
needs (`dependencies=[Evaluator]`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from arena.engines.router import Router
from arena.settings import Settings
from arena.storage.db import Database
from arena.web.auth.authentication import current_principal
from arena.web.auth.principal import Principal, Role


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_router(request: Request) -> Router:
    return request.app.state.router


async def get_database(request: Request) -> Database:
    return request.app.state.database


# Async, though they only read app.state: FastAPI runs a plain `def` dependency in a worker
# thread, a hop (and a wait for the GIL) on every request's way to its first byte.
AppSettings = Annotated[Settings, Depends(get_app_settings)]
ModelRouter = Annotated[Router, Depends(get_router)]
Db = Annotated[Database, Depends(get_database)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(needed: Role) -> object:
    """A dependency that answers 403 unless the caller holds `needed` (or a higher role)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(needed):
            raise HTTPException(status_code=403, detail=f"This needs the {needed} role; you are {principal.role}")
        return principal

    check.__name__ = f"require_{needed}"
    return Depends(check)


# Route-level dependencies: `dependencies=[Evaluator]`.
Viewer = require_role("viewer")
Evaluator = require_role("evaluator")
Admin = require_role("admin")
