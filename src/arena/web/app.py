"""The FastAPI app factory, and how uvicorn must run it (`SERVER_OPTIONS`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from arena import __version__
from arena.engines.factory import build_router
from arena.engines.router import Router
from arena.evaluation.judge.trust import warm as warm_judges
from arena.evaluation.ratings.stored import warm as warm_leaderboard
from arena.settings import Settings
from arena.storage.db import Database
from arena.storage.shared_state import connect
from arena.web.access_log import install_query_redaction
from arena.web.auth.authentication import LOGIN_BUCKET
from arena.web.auth.budget import close_generation_budget, install_generation_budget, open_generation_budget
from arena.web.auth.limits import BUCKETS, enforce_rate_limit, install_rate_limits
from arena.web.auth.pages import install_login_redirect
from arena.web.auth.throttle import LoginThrottle
from arena.web.body_bounds import BodySizeLimit, JsonBounds
from arena.web.docs import install_docs
from arena.web.errors import install_error_handlers
from arena.web.middleware import BrowserGuard, ForwardedHeaders, allowed_hosts, normalize_origin
from arena.web.nul_guard import NulInUrl
from arena.web.observability import metrics
from arena.web.observability.alerts import AbuseAlerts
from arena.web.observability.requests import RequestObserver
from arena.web.openai_errors import OpenAIErrors
from arena.web.openapi import AUTH_ERRORS, install_stream_schemas
from arena.web.process_lease import end_lease, keep_lease, start_lease
from arena.web.readiness import DatabaseProbe, RedisProbe
from arena.web.routes import (
    attachments,
    audit,
    auth,
    bench,
    chat,
    conversations,
    exports,
    gateway,
    judge,
    judges,
    leaderboard,
    manage,
    models,
    next_pair,
    oidc,
    pages,
    render,
    shares,
    users,
    votes,
)
from arena.web.routes import metrics as metrics_route
from arena.web.stop_signals import install_stop_signals, listen_for_stops
from arena.web.unexpected import install_unexpected_errors

STATIC_DIR = Path(__file__).parent / "static"
# uvicorn's own proxy handling believes X-Forwarded-For from loopback (FORWARDED_ALLOW_IPS):
# off, so only `ForwardedHeaders` and ARENA_TRUSTED_PROXIES decide who the caller is.
SERVER_OPTIONS: Final[dict[str, Any]] = {"proxy_headers": False, "forwarded_allow_ips": ""}


def _warm_reads(database: Database, stop: threading.Event) -> None:
    """The slow reads at a million battles, done ahead: the leaderboard's common views, the judges."""
    warm_leaderboard(database, stop)
    if not stop.is_set():
        warm_judges(database)


def create_app(settings: Settings, *, router: Router | None = None, database: Database | None = None) -> FastAPI:
    """Everything the app needs comes in here; nothing is read from the environment later."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = app.state.database
        await asyncio.to_thread(db.migrate)
        # Answers cut off by a crash or kill -9 keep their text and say they were stopped; those
        # of another live process sharing the database are left alone (web/process_lease.py).
        me = await start_lease(db, shared_state=app.state.redis is not None)
        heartbeat = asyncio.create_task(keep_lease(db, me), name="process lease")
        await open_generation_budget(app)  # with Redis: shared limits learnt (and differences said) now
        stop_listener = asyncio.create_task(listen_for_stops(app), name="stop signals")  # with Redis
        # The leaderboard's common views and the judges' numbers, read in the background: never holds up startup.
        warm_stop = threading.Event()
        warming = threading.Thread(target=_warm_reads, args=(db, warm_stop), name="warm reads", daemon=True)
        warming.start()
        try:
            yield
        finally:
            warm_stop.set()
            # Running benchmark items go back to pending, before their engines close under them.
            await bench.stop_runners(app)
            await manage.stop_pulls(app)
            if owns_router:
                await app.state.router.aclose()
            heartbeat.cancel()
            stop_listener.cancel()
            await asyncio.gather(heartbeat, stop_listener, return_exceptions=True)
            await close_generation_budget(app)
            await asyncio.to_thread(warming.join, 30)  # it stops within a batch of battles
            await end_lease(db, me)  # last: until here, this process may still be closing answers
            app.state.database_probe.close()
            db.dispose()
            if app.state.redis is not None:
                await app.state.redis.aclose()
            metrics.process_exited()  # this worker's live gauges stop counting (multiprocess mode)

    app = FastAPI(
        title="Local LLM Arena",
        version=__version__,
        description="Compare local language models side by side, privately. The API is compatible with "
        "the original Ollama Arena v3 API.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
    )
    owns_router = router is None  # a router passed in belongs to the caller (tests share one)
    app.state.settings = settings
    app.state.router = router or build_router(settings)
    app.state.database = database or Database.for_settings(settings)  # with the encryption key, if any
    app.state.database_probe = DatabaseProbe(app.state.database)  # readiness (routes/models.py)
    # Shared by every process when set: rate limits, stop signals, the generation budget.
    app.state.redis = connect(settings.redis_url.get_secret_value()) if settings.redis_url is not None else None
    app.state.redis_probe = RedisProbe(app.state.redis) if app.state.redis is not None else None
    install_query_redaction()  # search terms and other query strings stay out of the access log
    install_error_handlers(app)
    install_login_redirect(app)
    install_rate_limits(app, settings)
    # Every 429 bucket counted from 0 (limits, the login throttle's wait, the per-user stream cap).
    metrics.start_at_zero(
        metrics.RATE_LIMITED, (*sorted(set(BUCKETS.values())), LOGIN_BUCKET, "login_throttle", "streams")
    )
    install_generation_budget(app, settings)
    install_stop_signals(app)
    app.state.login_throttle = LoginThrottle.from_settings(settings, app.state.database)
    app.state.alerts = AbuseAlerts.from_settings(settings, app.state.database)  # ARENA_ALERT_*
    install_docs(app)
    install_stream_schemas(app)
    install_unexpected_errors(app)  # innermost: any error a route lets through is JSON, with the headers below
    app.add_middleware(NulInUrl)  # PostgreSQL cannot store NUL: 422 saying where (JsonBounds checks bodies)
    app.add_middleware(JsonBounds)  # inside the size limit: it reads only bounded bodies
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    trusted_origins = frozenset(normalize_origin(origin) for origin in settings.cors_origins)
    # Runs before the app's own code: a request from the wrong host or site gets no further.
    app.add_middleware(
        BrowserGuard,
        hosts=allowed_hosts(bind=settings.web_bind, extra=settings.allowed_hosts),
        trusted_origins=trusted_origins,
    )
    if trusted_origins:
        # No cross-origin access unless listed; cookies never cross (API tokens do).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(trusted_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
        )
    app.add_middleware(OpenAIErrors, prefix="/v1")  # the gateway's errors in OpenAI's shape, whoever refused
    # Added late, so it runs before the app's own code: the caller's address, scheme and host are settled first.
    app.add_middleware(ForwardedHeaders, trusted_proxies=settings.trusted_proxies)
    # Outermost of all: every request, even one refused above, gets an id, a log line and a count.
    app.add_middleware(RequestObserver, trusted_proxies=settings.trusted_proxies)
    app.include_router(models.health_router)
    app.include_router(metrics_route.router)  # GET /metrics, for admins (Prometheus)
    # Chat, judge and pull count against the caller's rate limits (ARENA_RATE_LIMIT_*).
    rate_limited = [Depends(enforce_rate_limit)]
    for module in (chat, manage, judge):
        app.include_router(module.router, dependencies=rate_limited, responses=AUTH_ERRORS)
    app.include_router(gateway.router, dependencies=rate_limited)  # OpenAI-compatible: documents its own errors
    for module in (
        *(models, conversations, votes, exports, attachments, render, leaderboard, next_pair, judges, bench),
        *(auth, users, shares, audit),
    ):
        app.include_router(module.router, responses=AUTH_ERRORS)
    app.include_router(oidc.router)  # single sign-on (OpenID Connect), when ARENA_OIDC_ISSUER is set
    app.include_router(pages.router)  # every HTML page
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
