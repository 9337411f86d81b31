"""Which deployment a Redis key belongs to: every key the arena keeps in Redis starts with
`redis_namespace(database_url)`, so two deployments pointed at one Redis share nothing.

Processes sharing a database are one deployment (they share its answers, leases and users), so
the namespace is a short hash of the database's URL, without its password (rotating it changes
nothing) or query (per-process driver options), and with SQLite's path made absolute.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import make_url


def redis_namespace(database_url: str) -> str:
    url = make_url(database_url).set(query={})
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return f"arena:{digest}"
