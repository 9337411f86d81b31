"""The one-line calls the rest of the web layer makes where something happens: an audit event
(`observe_audit`), a 429 (`observe_refusal`), an error answer (`observe_error`), a finished
generation (`observe_generation`), a finished benchmark item (`observe_bench`). Each feeds the
metrics, the log and the abuse alerts; none of them ever fails the request that calls it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request

from arena.errors import ArenaError, InvalidInput, SharedStateUnavailable, StorageUnavailable
from arena.evaluation.conversation.compare import FinishEvent
from arena.storage import audit
from arena.storage.failures import is_database_failure
from arena.web.auth.principal import client_ip
from arena.web.observability import alerts, metrics

logger = logging.getLogger("arena.web.generations")


def _alerts(app: FastAPI) -> alerts.AbuseAlerts | None:
    return getattr(app.state, "alerts", None)


async def observe_audit(request: Request, action: str, *, actor: str, actor_id: int | None, ip: str | None) -> None:
    """An audit event was recorded: count it where it is counted, watch it where it may be abuse."""
    if action in (audit.JUDGE, audit.JUDGE_FAILURE):
        metrics.JUDGE_CALLS.labels("ok" if action == audit.JUDGE else "error").inc()
        return
    watch = _alerts(request.app)
    if action == audit.LOGIN_FAILURE:
        metrics.LOGIN_FAILURES.inc()
        if watch is not None:
            # Per account (guessing one password from many addresses) and per address (spraying).
            per = {"account": actor} | ({"address": ip} if ip is not None else {})
            await watch.note(alerts.LOGIN_BURST, per, actor=actor, ip=ip)
        return
    event = {audit.CONVERSATION_EXPORT: alerts.EXPORT_BURST, audit.MODEL_PULL: alerts.PULL_BURST}.get(action)
    if event is not None and watch is not None:
        await watch.note(event, {"user": actor}, actor=actor, actor_id=actor_id, ip=ip)


async def observe_refusal(request: Request, bucket: str) -> None:
    """A 429: counted by bucket, and watched per caller (a user, else an address)."""
    metrics.RATE_LIMITED.labels(bucket).inc()
    watch = _alerts(request.app)
    if watch is None:
        return
    principal = getattr(request.state, "principal", None)
    ip = client_ip(request)
    key = principal.rate_key if principal is not None else f"ip:{ip}"
    actor = principal.username if principal is not None else "anonymous"
    actor_id = principal.user_id if principal is not None else None
    await watch.note(alerts.RATE_LIMITED, {"caller": key}, actor=actor, actor_id=actor_id, ip=ip, bucket=bucket)


async def observe_audit_verified(request: Request, *, ok: bool, bad_id: int | None, problem: str | None) -> None:
    """The audit chain was checked; a broken one is an alert (once an hour while it stays broken)."""
    watch = _alerts(request.app)
    if ok or watch is None:
        return
    principal = getattr(request.state, "principal", None)
    await watch.note(
        alerts.AUDIT_CHAIN_BROKEN,
        {"log": "audit_log"},
        actor=principal.username if principal is not None else "arena",
        actor_id=principal.user_id if principal is not None else None,
        ip=client_ip(request),
        bad_id=bad_id,
        problem=problem,
    )


def observe_error(exc: BaseException) -> None:
    """An error answer: the database's and Redis' failures are counted."""
    if isinstance(exc, SharedStateUnavailable):
        metrics.REDIS_ERRORS.inc()
    elif isinstance(exc, StorageUnavailable) or (not isinstance(exc, ArenaError) and is_database_failure(exc)):
        metrics.DATABASE_ERRORS.inc()


def engine_of(app: FastAPI, model_id: str) -> str:
    try:
        return app.state.router.parse(model_id).kind
    except (InvalidInput, AttributeError):
        return "unknown"


def model_label(app: FastAPI, event: FinishEvent) -> str:
    """The model as a label: one that answered, or that the engines list; a failure of any other
    name (a caller may type any) counts under UNLISTED, so names cannot add series without end."""
    router = getattr(app.state, "router", None)
    if event.status == "ok" or (router is not None and router.listed(event.model)):
        return event.model
    return metrics.UNLISTED


def observe_generation(request: Request, event: FinishEvent) -> None:
    """One instance finished: counted, timed, and logged with model, engine, status, tokens and
    duration (never its text)."""
    engine = engine_of(request.app, event.model)
    model = model_label(request.app, event)
    metrics.GENERATIONS.labels(engine, model, event.status).inc()
    facts: dict[str, Any] = {"model": event.model, "engine": engine, "status": event.status}
    measured = event.metrics
    if measured is not None:
        if measured.ttft_s is not None:
            metrics.FIRST_TOKEN_SECONDS.labels(engine, model).observe(measured.ttft_s)
        if measured.tokens_per_sec is not None:
            metrics.TOKENS_PER_SECOND.labels(engine, model).observe(measured.tokens_per_sec)
        if measured.wait_s is not None:
            metrics.QUEUE_WAIT_SECONDS.labels(engine).observe(measured.wait_s)
        facts |= {"tokens": measured.tokens, "duration_s": round(measured.duration_s, 3), "ttft_s": measured.ttft_s}
    logger.info(
        "generation %s on %s: %s, %s tokens", event.model, engine, event.status, facts.get("tokens", 0), extra=facts
    )


def observe_bench(kind: str, status: str) -> None:
    """A benchmark item or judgment finished (or was skipped)."""
    metrics.BENCH_WORK.labels(kind, status).inc()
