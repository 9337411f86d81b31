"""Map a model id to an engine and endpoint.

Model ids are namespaced: `local:<name>`, `ollama:<name>`, `openai:<endpoint>/<model>`.
With several Ollama endpoints, a request goes to a reachable one with the fewest requests
in flight; if it turns out to be down or not to have the model, the next one is tried,
as long as nothing has been streamed yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, PullProgress
from arena.engines.egress import EgressPolicy
from arena.errors import EngineUnavailable, InvalidInput, ModelNotAvailable

HEALTH_TTL_S = 5.0


@dataclass(frozen=True, kw_only=True)
class ModelRef:
    kind: str  # local | ollama | openai | anthropic
    name: str  # the engine's own model name
    endpoint: str | None = None  # openai endpoint name


@dataclass(frozen=True, kw_only=True)
class Inventory:
    models: list[ModelInfo]
    health: list[EngineHealth]


def parse_model_id(model_id: str, *, local_names: set[str] | frozenset[str] = frozenset()) -> ModelRef:
    """Split a namespaced id. A bare name (the legacy `models` list) is local if the
    embedded catalog has it, else an Ollama model, as in the original arena."""
    kind, sep, rest = model_id.partition(":")
    if not sep or kind not in ("local", "ollama", "openai"):
        kind, rest = ("local" if model_id in local_names else "ollama"), model_id
    if not rest:
        raise InvalidInput(f"model id {model_id!r} names no model")
    if kind == "openai":
        endpoint, slash, name = rest.partition("/")
        if not slash or not endpoint or not name:
            raise InvalidInput(f"model id {model_id!r} must look like openai:<endpoint>/<model>")
        return ModelRef(kind=kind, name=name, endpoint=endpoint)
    return ModelRef(kind=kind, name=rest)


class Router:
    def __init__(self, *, engines: list[Engine], egress: EgressPolicy | None = None) -> None:
        self.engines = engines
        # Where requests may go (the settings' endpoints); a cloud judge's client is guarded by it too.
        self.egress = egress or EgressPolicy()
        self._in_flight: dict[int, int] = {id(e): 0 for e in engines}
        # Endpoints seen down recently are tried last until this monotonic time.
        self._down_until: dict[int, float] = {}
        self._inventory: tuple[float, Inventory] | None = None
        self._inventory_lock = asyncio.Lock()

    def of_kind(self, kind: str) -> list[Engine]:
        return [e for e in self.engines if e.kind == kind]

    def local_names(self, *, refresh: bool = False) -> set[str]:
        catalog = getattr(next(iter(self.of_kind("local")), None), "catalog", None)
        return set(catalog(refresh=refresh)) if catalog else set()

    def parse(self, model_id: str) -> ModelRef:
        return parse_model_id(model_id, local_names=self.local_names())

    def canonical_id(self, model_id: str) -> str:
        ref = self.parse(model_id)
        return f"openai:{ref.endpoint}/{ref.name}" if ref.kind == "openai" else f"{ref.kind}:{ref.name}"

    def bare_name(self, model_id: str) -> str:
        """The name v3 clients list and compare (`llama3.2:1b` for `ollama:llama3.2:1b`): the
        engine's own name when it reads back as the same model, else the full id."""
        ref = self.parse(model_id)
        if ref.kind in ("local", "ollama") and self.parse(ref.name) == ref:
            return ref.name
        return model_id

    async def inventory(self, *, fresh: bool = False) -> Inventory:
        """Every engine's models and health, cached briefly so a page load is one round of calls."""
        async with self._inventory_lock:
            cached = self._inventory
            if cached and not fresh and time.monotonic() - cached[0] < HEALTH_TTL_S:
                return cached[1]
            results = await asyncio.gather(*(self._survey(e) for e in self.engines))
            inventory = Inventory(
                models=[m for models, _ in results for m in models], health=[h for _, h in results]
            )
            now = time.monotonic()
            self._inventory = (now, inventory)
            for engine, (_models, health) in zip(self.engines, results, strict=True):
                self._down_until[id(engine)] = 0.0 if health.reachable else now + HEALTH_TTL_S
            return inventory

    async def _survey(self, engine: Engine) -> tuple[list[ModelInfo], EngineHealth]:
        health = await engine.health()
        if not health.reachable:
            return [], health
        try:
            return await engine.list_models(), health
        except Exception as exc:  # one engine failing never hides the others
            return [], replace(health, reachable=False, detail=str(exc))

    async def check_known(self, model_id: str) -> None:
        """Raise ModelNotAvailable when the model's engine answers and does not list it.

        An engine that is down proves nothing: the stream will report that error itself.
        """
        ref = self.parse(model_id)
        candidates = self._candidates(ref)
        if ref.kind == "local":  # the catalog is in memory: no need to survey every engine
            if ref.name not in self.local_names() and ref.name not in self.local_names(refresh=True):
                raise ModelNotAvailable(f"model '{model_id}' is not available: see GET /api/models")
            return
        inventory = await self.inventory()
        reachable = {h.endpoint for h in inventory.health if h.reachable}
        listed = {m.id for m in inventory.models}
        if any(e.endpoint in reachable for e in candidates) and self.canonical_id(model_id) not in listed:
            hint = f"run `arena pull {ref.name}`" if ref.kind == "ollama" else "see GET /api/models"
            raise ModelNotAvailable(f"model '{model_id}' is not available: {hint}")

    def _candidates(self, ref: ModelRef) -> list[Engine]:
        engines = self.of_kind(ref.kind)
        if ref.kind == "openai":
            engines = [e for e in engines if getattr(e, "name", None) == ref.endpoint]
            if not engines:
                raise ModelNotAvailable(
                    f"no OpenAI-compatible endpoint named '{ref.endpoint}': add it to ARENA_OPENAI_ENDPOINTS"
                )
        if not engines:
            what = {"local": "the embedded engine is turned off (ARENA_EMBEDDED)", "ollama": "no OLLAMA_HOST"}
            raise EngineUnavailable(f"no engine for {ref.kind} models: {what.get(ref.kind, 'not configured')}")
        # Reachable before recently-down, then fewest requests in flight; ties keep the configured order.
        now = time.monotonic()
        return sorted(engines, key=lambda e: (self._down_until.get(id(e), 0.0) > now, self._in_flight[id(e)]))

    async def stream(self, model_id: str, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Stream from the best endpoint; fail over to the next only before the first chunk."""
        ref = self.parse(model_id)
        request = replace(request, model=ref.name)
        candidates = self._candidates(ref)
        last_error: Exception | None = None
        for engine in candidates:
            started = False
            self._in_flight[id(engine)] += 1
            try:
                generator = engine.stream(request)
                try:
                    async for chunk in generator:
                        started = True
                        yield chunk
                    return
                finally:
                    await generator.aclose()
            except (EngineUnavailable, ModelNotAvailable) as exc:
                if isinstance(exc, EngineUnavailable) and not started:
                    self._down_until[id(engine)] = time.monotonic() + HEALTH_TTL_S
                if started or len(candidates) == 1:
                    raise
                last_error = exc
            finally:
                self._in_flight[id(engine)] -= 1
        assert last_error is not None
        raise last_error

    def engine_for_management(self, model_id: str) -> tuple[Engine, str]:
        """The engine that pulls / deletes / shows a model (the least busy one of its kind)."""
        ref = self.parse(model_id)
        engine = self._candidates(ref)[0]
        return engine, ref.name

    async def pull(self, model_id: str) -> AsyncIterator[PullProgress]:
        engine, name = self.engine_for_management(model_id)
        if not engine.can_pull:
            raise InvalidInput(f"{engine.kind} models cannot be pulled")
        async for progress in engine.pull(name):
            yield progress
        self._inventory = None

    async def delete(self, model_id: str) -> None:
        engine, name = self.engine_for_management(model_id)
        if not engine.can_delete:
            raise InvalidInput(f"{engine.kind} models cannot be deleted")
        await engine.delete(name)
        self._inventory = None

    async def aclose(self) -> None:
        await asyncio.gather(*(e.aclose() for e in self.engines), return_exceptions=True)
