"""Stop any stream from any process, through Redis (ARENA_REDIS_URL).

Each process announces the streams it runs: one key per (turn id, key) holding the process's id,
with a TTL that the process renews while the stream runs (and so re-creates after a Redis
restart). `/api/stop` sent to a process that does not run the stream reads its owner there and
publishes the request on one pub/sub channel; every process listens (one task per app, started
in the lifespan, reconnecting after Redis comes back), and the owner stops it as a local stop
would. Without Redis, `RunningStreams` holds the streams of its one process alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Final

import redis.asyncio as aioredis
from fastapi import FastAPI

from arena.errors import SharedStateUnavailable
from arena.storage.redis_namespace import deployment_namespace
from arena.storage.shared_state import shared_state_errors
from arena.web.streaming import RunningStreams

logger = logging.getLogger(__name__)

# After the deployment's namespace (storage/redis_namespace.py): another deployment's stops are not ours.
CHANNEL: Final = "stop"
KEY_PREFIX: Final = "stream"
TTL_S: Final = 15  # a process killed mid-stream leaves its keys this long at most
RENEW_S: Final = 5
RECONNECT_S: Final = 1.0
LISTEN_WAIT_S: Final = 1.0  # how long one read of the channel waits before renewing is looked at
# Delete a stream's key only while it still names this process (a later stream may own it now).
_WITHDRAW_IF_MINE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class SharedStops:
    """The `SharedStreams` of `RunningStreams` (web/streaming.py), kept in Redis."""

    def __init__(self, redis: aioredis.Redis, streams: RunningStreams, *, namespace: str = "arena") -> None:
        self._redis = redis
        self._namespace = namespace
        self._channel = f"{namespace}:{CHANNEL}"
        self._streams = streams
        self.process_id = uuid.uuid4().hex  # per app: two apps in one process are two owners
        self._withdraw_if_mine = redis.register_script(_WITHDRAW_IF_MINE)
        self._withdrawing: set[asyncio.Task[None]] = set()
        self._down = False  # while the listener cannot reach Redis (logged once per outage)

    def _key(self, turn_id: int, key: str) -> str:
        return f"{self._namespace}:{KEY_PREFIX}:{turn_id}:{key}"

    async def announce(self, entries: list[tuple[int, str]]) -> None:
        """Say that these streams run here. Never raises: a stream already running is not failed
        for want of Redis; the listener announces it again once Redis answers."""
        try:
            await self._set(entries)
        except SharedStateUnavailable:
            logger.warning("could not announce a stream in Redis: until it answers, only this process can stop it")

    def withdraw(self, entries: list[tuple[int, str]]) -> None:
        """These streams ended: their keys go, in the background (else they expire)."""
        task = asyncio.get_running_loop().create_task(self._withdraw(entries), name="withdraw streams")
        self._withdrawing.add(task)
        task.add_done_callback(self._withdrawing.discard)

    async def is_running(self, turn_id: int, key: str) -> bool:
        async with shared_state_errors():
            return bool(await self._redis.exists(self._key(turn_id, key)))

    async def stop(self, turn_id: int, key: str) -> bool:
        """Ask the process that runs this stream to stop it; False when it runs nowhere."""
        async with shared_state_errors():
            owner = await self._redis.get(self._key(turn_id, key))
            if owner is None:
                return False
            await self._redis.publish(self._channel, json.dumps({"process": owner, "turn_id": turn_id, "key": key}))
        return True

    async def listen(self) -> None:
        """Hear stop requests for this process and keep its streams announced, until cancelled."""
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis gone or restarting: listen again shortly
                if not self._down:
                    logger.warning("stop signals: Redis is unreachable (%s); retrying", type(exc).__name__)
                self._down = True
                await asyncio.sleep(RECONNECT_S)

    async def _listen_once(self) -> None:
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self._channel)
            await self._renew()  # after an outage: announced again, the keys may be gone with Redis
            if self._down:
                logger.warning("stop signals: Redis answers again")
                self._down = False
            renewed = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=LISTEN_WAIT_S)
                if message is not None:
                    self._heard(message.get("data"))
                if time.monotonic() - renewed >= RENEW_S:
                    await self._renew()
                    renewed = time.monotonic()

    def _heard(self, data: Any) -> None:
        # Every process hears every request (and a channel spans all of a Redis's databases):
        # only the one named acts.
        try:
            request = json.loads(data)
            if request["process"] == self.process_id:
                self._streams.stop_here(int(request["turn_id"]), str(request["key"]))
        except (TypeError, ValueError, KeyError):
            logger.warning("stop signals: ignored a message that is not a stop request")

    async def _renew(self) -> None:
        entries = self._streams.entries()
        await self._set(entries)
        # A stream that ended while the renewal was on its way must not stay announced.
        ended = sorted(set(entries) - set(self._streams.entries()))
        if ended:
            await self._withdraw(ended)

    async def _set(self, entries: list[tuple[int, str]]) -> None:
        if not entries:
            return
        async with shared_state_errors(), self._redis.pipeline(transaction=False) as pipe:
            for turn_id, key in entries:
                pipe.set(self._key(turn_id, key), self.process_id, ex=TTL_S)
            await pipe.execute()

    async def _withdraw(self, entries: list[tuple[int, str]]) -> None:
        try:
            async with shared_state_errors():
                for turn_id, key in entries:
                    await self._withdraw_if_mine(keys=[self._key(turn_id, key)], args=[self.process_id])
        except SharedStateUnavailable:
            logger.debug("could not withdraw %d stream keys; they expire within %d s", len(entries), TTL_S)


def install_stop_signals(app: FastAPI) -> None:
    """The app's `RunningStreams`, shared through `app.state.redis` when there is one."""
    streams = app.state.running_streams = RunningStreams()
    redis = getattr(app.state, "redis", None)
    if redis is not None:
        namespace = deployment_namespace(app.state.settings)
        streams.shared = SharedStops(redis, streams, namespace=namespace)


async def listen_for_stops(app: FastAPI) -> None:
    """The lifespan's task: stop requests from the other processes (returns at once without Redis)."""
    shared = app.state.running_streams.shared
    if isinstance(shared, SharedStops):
        await shared.listen()
