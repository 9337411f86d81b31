"""Run the real arena app under uvicorn on an ephemeral loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from arena.engines.router import Router
from arena.settings import Settings
from arena.storage.db import Database
from arena.web.app import SERVER_OPTIONS, create_app


@dataclass
class RunningArena:
    url: str
    settings: Settings

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)

    @contextmanager
    def database(self) -> Iterator[Database]:
        """The arena's own database (with its encryption and audit keys), to seed or inspect beside it."""
        database = Database.for_settings(self.settings)
        try:
            database.migrate()  # already done by the server: this loads the audit key, to append entries
            yield database
        finally:
            database.dispose()


@contextmanager
def serving(app: Any, *, what: str, **options: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on an ephemeral loopback port in a thread; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError(f"{what} did not start")
        threading.Event().wait(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def running_arena(settings: Settings, *, router: Router | None = None) -> Iterator[RunningArena]:
    """`router`: engines of the test's own (a protocol double, a payload engine), owned by the test."""
    app = create_app(settings, router=router)
    with serving(app, what="the arena server", lifespan="on", **SERVER_OPTIONS) as url:
        yield RunningArena(url=url, settings=settings)


def ndjson_lines(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for raw in response.iter_lines():
        if raw.strip():
            yield json.loads(raw)


def make_settings(data_dir: Any, **overrides: Any) -> Settings:
    """Settings for a test, independent of the environment and of any .env file."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "ollama_hosts": ["http://127.0.0.1:9"],  # a closed port: no real Ollama is ever reached
        "hf_endpoint": "http://127.0.0.1:9",  # nor the real Hugging Face hub
        "openai_endpoints": [],
        "web_chat_token": None,
        "database_url": None,
        "embedded_slots": 2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)
