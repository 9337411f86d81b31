"""Annotated dependencies, so route signatures read like sentences."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from arena.engines.router import Router
from arena.errors import EngineUnavailable
from arena.settings import Settings
from arena.storage.db import Database


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_router(request: Request) -> Router:
    return request.app.state.router


def get_database(request: Request) -> Database:
    return request.app.state.database


def generation_slots(request: Request) -> asyncio.Semaphore:
    """The app's generation slots, refused at once (503) when all are taken."""
    slots: asyncio.Semaphore = request.app.state.generation_slots
    if slots.locked():
        raise EngineUnavailable(
            "too many generations in progress (MAX_CONCURRENT_REQUESTS): wait for one to finish and try again"
        )
    return slots


AppSettings = Annotated[Settings, Depends(get_app_settings)]
ModelRouter = Annotated[Router, Depends(get_router)]
Db = Annotated[Database, Depends(get_database)]
