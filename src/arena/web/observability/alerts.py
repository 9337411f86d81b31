"""Alerts on abuse the arena itself can see: a burst of failed logins for one account or from one
address, one user exporting or pulling far more than usual, repeated 429s for one caller, an
audit chain that fails to verify.

Each is counted per (event, key) in a moving window (the `limits` library, as the rate limits;
in Redis when ARENA_REDIS_URL is set, so every worker counts together). The occurrence that
reaches a threshold (ARENA_ALERT_*, "10/5minutes": the 10th within 5 minutes) raises the alert,
once per window, not once per request: a WARNING log line with a stable ``event`` name, a count
in ``arena_abuse_events_total{event=…}``, and an audit entry of that action, which the admin's
/audit page lists (filter "abuse"). An alert that cannot be counted (Redis down) or recorded
(the database down) is logged and counted as such an error; it never fails the request it watches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy.exc import SQLAlchemyError

from arena.errors import SharedStateUnavailable
from arena.settings import Settings
from arena.storage import audit
from arena.storage.db import Database
from arena.storage.failures import reason
from arena.storage.redis_namespace import deployment_namespace
from arena.storage.shared_state import shared_state_errors
from arena.web.observability import metrics

logger = logging.getLogger("arena.abuse")

LOGIN_BURST: Final = audit.ABUSE_LOGIN_BURST
EXPORT_BURST: Final = audit.ABUSE_EXPORT_BURST
PULL_BURST: Final = audit.ABUSE_PULL_BURST
RATE_LIMITED: Final = audit.ABUSE_RATE_LIMITED
AUDIT_CHAIN_BROKEN: Final = audit.ABUSE_AUDIT_CHAIN_BROKEN
CHAIN_ALERT_EVERY: Final = "1/hour"  # a broken chain stays broken: say so once an hour, however often it is checked
NAMESPACE: Final = "arena-abuse"
metrics.start_at_zero(metrics.ABUSE_EVENTS, (LOGIN_BURST, EXPORT_BURST, PULL_BURST, RATE_LIMITED, AUDIT_CHAIN_BROKEN))


def window_text(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.multiples} {unit}s" if item.multiples != 1 else f"1 {unit}"


class AbuseAlerts:
    """Call `note` once per suspicious occurrence; it decides whether that one raises the alert."""

    def __init__(self, *, database: Database, rules: Mapping[str, str], storage: Storage | None = None) -> None:
        self._database = database
        self._rules = {event: parse_many(rule) for event, rule in rules.items() if rule != "off"}
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> AbuseAlerts:
        storage = None
        if settings.redis_url is not None:
            url = settings.redis_url.get_secret_value()
            prefix = f"{deployment_namespace(settings)}:{NAMESPACE}"  # this deployment's own
            storage = storage_from_string(f"async+{url}", implementation="redispy", key_prefix=prefix)
        rules = {
            LOGIN_BURST: settings.alert_login_failures,
            EXPORT_BURST: settings.alert_exports,
            PULL_BURST: settings.alert_pulls,
            RATE_LIMITED: settings.alert_rate_limited,
            AUDIT_CHAIN_BROKEN: CHAIN_ALERT_EVERY,
        }
        return cls(database=database, rules=rules, storage=storage)  # type: ignore[arg-type]

    async def note(
        self,
        event: str,
        per: Mapping[str, str],
        *,
        actor: str,
        actor_id: int | None = None,
        ip: str | None = None,
        **detail: Any,
    ) -> bool:
        """Count one occurrence of `event` under each of `per` (what it is counted per → who, such
        as {"account": "vic", "address": "10.0.0.7"}); True when it raised the alert. One
        occurrence raises one alert however many of its counts it tips over."""
        try:
            async with shared_state_errors():
                crossed = {name: item for name, who in per.items() if (item := await self._crossed(event, name, who))}
        except SharedStateUnavailable:
            metrics.REDIS_ERRORS.inc()
            logger.warning("could not count %s: the shared state (Redis) is unreachable", event)
            return False
        if not crossed:
            return False
        name, item = next(iter(crossed.items()))
        detail |= {"per": sorted(crossed), "threshold": item.amount, "window": window_text(item)}
        await self._raise(event, actor=actor, actor_id=actor_id, ip=ip, target=per[name], detail=detail)
        return True

    async def _crossed(self, event: str, name: str, who: str) -> RateLimitItem | None:
        """The threshold this occurrence reaches for the first time in its window, if any."""
        key = f"{name}:{who}"
        for item in self._rules.get(event, []):
            await self._limiter.hit(item, NAMESPACE, event, key)
            if await self._limiter.test(item, NAMESPACE, event, key):
                continue  # room left: not there yet
            once = type(item)(1, item.multiples)  # one alert per window of the same length
            if await self._limiter.hit(once, NAMESPACE, event, "raised", key):
                return item
        return None

    async def _raise(
        self,
        event: str,
        *,
        actor: str,
        actor_id: int | None,
        ip: str | None,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        metrics.ABUSE_EVENTS.labels(event).inc()
        logger.warning(
            "%s: %s (%s); see the audit log",
            event,
            target or actor,
            ", ".join(f"{name} {value}" for name, value in detail.items()),
            extra={"event": event, "target": target, "actor": actor, "detail": detail},
        )
        try:
            await asyncio.to_thread(
                audit.record,
                self._database,
                actor_id=actor_id,
                actor=actor,
                action=event,
                target=target,
                ip=ip,
                detail=detail,
            )
        except (SQLAlchemyError, OSError) as exc:  # the warning above stands; the request goes on
            metrics.DATABASE_ERRORS.inc()
            logger.error("could not record %s in the audit log: %s", event, reason(exc))
