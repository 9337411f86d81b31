"""The original v3 server's /api/stream_chat, run for a reference measurement (bench/relay.py).

v3's own route and Ollama service (`../shared/v3-client/app/`, unmodified) under Flask's
threaded development server (`threaded=True`, a thread per request), talking to OLLAMA_HOST
through the official `ollama` client it used (`pip install 'local-llm-arena[bench]'`). v3's
`config`, `logger` and `app.middleware` modules are not in that copy: small stand-ins give it
the settings it reads, its loggers (to stderr, at INFO, as v3 logged, with the server's
request log) and no authentication (as v3 with no token configured).

    python bench/v3_reference.py PORT      # serves http://127.0.0.1:PORT/api/stream_chat
"""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

V3_CLIENT = Path(__file__).resolve().parents[2] / "shared" / "v3-client"


class _Config:
    """The settings v3's routes and service read (v3's defaults)."""

    DEFAULT_MODEL = "llama3.2:1b"
    HISTORY_LIMIT = 20
    REQUEST_TIMEOUT = 90
    MAX_CONCURRENT_REQUESTS = 4


def _stand_ins() -> None:
    config = types.ModuleType("config")
    config.get_config = _Config  # type: ignore[attr-defined]
    logger = types.ModuleType("logger")
    logger.get_logger = logging.getLogger  # type: ignore[attr-defined]
    middleware = types.ModuleType("app.middleware")
    middleware.require_auth = lambda view: view  # type: ignore[attr-defined]
    sys.modules.update({"config": config, "logger": logger, "app.middleware": middleware})


def create_v3_app() -> Any:
    from flask import Flask

    if not (V3_CLIENT / "app" / "api_routes.py").is_file():
        raise SystemExit(f"v3's server code is missing: expected {V3_CLIENT / 'app'}")
    sys.path.insert(0, str(V3_CLIENT))
    _stand_ins()
    from app.api_routes import api_bp  # v3's own module, as shipped

    app = Flask("v3")
    app.register_blueprint(api_bp, url_prefix="/api")
    return app


def main() -> None:
    from werkzeug.serving import run_simple

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    run_simple("127.0.0.1", int(sys.argv[1]), create_v3_app(), threaded=True)


if __name__ == "__main__":
    main()
