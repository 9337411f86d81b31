"""Which deployment a Redis key belongs to: every key the arena keeps in Redis starts with
`deployment_namespace(settings)`, so two deployments pointed at one Redis share nothing.

Processes sharing a database are one deployment (they share its answers, leases and users), so
by default the namespace is a short hash of *which database* the URL names, however it is
spelled: the backend without its driver, the host with every loopback name alike, the default
port filled in, the database and the schema it selects (`options`, e.g. `-csearch_path=…`),
and SQLite's path made absolute; never the user, the password or other driver options. Where
processes must reach one database under different names (another host's address, a pooler),
`ARENA_REDIS_NAMESPACE` names the deployment outright, the same on every process.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from sqlalchemy import make_url

from arena.settings import Settings

LOOPBACK_NAMES: Final = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
DEFAULT_PORTS: Final = {"postgresql": 5432}


def deployment_namespace(settings: Settings) -> str:
    if settings.redis_namespace is not None:
        return f"arena:{settings.redis_namespace}"
    return redis_namespace(settings.resolved_database_url)


def redis_namespace(database_url: str) -> str:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        identity = f"sqlite:{Path(path).resolve() if path and path != ':memory:' else path}"
    else:
        host = (url.host or "").lower()
        host = "loopback" if host in LOOPBACK_NAMES else host
        port = url.port or DEFAULT_PORTS.get(backend, 0)
        options = url.query.get("options", "")
        identity = f"{backend}://{host}:{port}/{url.database or ''}?options={options}"
    return f"arena:{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
