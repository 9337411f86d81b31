"""Map a model id to an engine and endpoint.

Model ids are namespaced: `local:<name>`, `ollama:<name>`, `openai:<endpoint>/<model>`; `hf:<org>/<repo>`
names a Hugging Face repo to pull from (the hub is a management-only engine, never surveyed).
With several Ollama endpoints, the inventory lists each model once with every endpoint that
serves it. A request goes to an endpoint that lists the model (per the last inventory), then
to a reachable one, then to the one with the fewest requests in flight (ties keep the
configured order); if it turns out to be down or not to have the model, the next one is
tried, as long as nothing has been streamed yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

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
    models: list[ModelInfo]  # each model id once (the first endpoint's description)
    health: list[EngineHealth]  # one per engine, in the engines' order
    endpoints: dict[str, list[str]] = field(default_factory=dict)  # model id -> every endpoint serving it

    def endpoints_of(self, model_id: str) -> list[str]:
        return self.endpoints.get(model_id, [])


def merge_listings(listings: list[list[ModelInfo]]) -> tuple[list[ModelInfo], dict[str, list[str]]]:
    """One entry per model id, in first-seen order, and the endpoints that serve each."""
    first: dict[str, ModelInfo] = {}
    endpoints: dict[str, list[str]] = {}
    for models in listings:
        for model in models:
            first.setdefault(model.id, model)
            served = endpoints.setdefault(model.id, [])
            if model.endpoint and model.endpoint not in served:
                served.append(model.endpoint)
    return list(first.values()), endpoints


def parse_model_id(model_id: str, *, local_names: set[str] | frozenset[str] = frozenset()) -> ModelRef:
    """Split a namespaced id. A bare name (the legacy `models` list) is local if the
    embedded catalog has it, else an Ollama model, as in the original arena."""
    kind, sep, rest = model_id.partition(":")
    if not sep or kind not in ("local", "ollama", "openai", "hf"):
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
    def __init__(self, *, engines: list[Engine], egress: EgressPolicy | None = None, hub: Engine | None = None) -> None:
        self.engines = engines
        self.hub = hub  # pulls `hf:` models; not an engine that lists or generates
        # Where requests may go (the settings' endpoints); a cloud judge's client is guarded by it too.
        self.egress = egress or EgressPolicy()
        self._in_flight: dict[int, int] = {id(e): 0 for e in self._managed()}
        # Endpoints seen down recently are tried last until this monotonic time.
        self._down_until: dict[int, float] = {}
        self._inventory: tuple[float, Inventory] | None = None
        self._inventory_lock = asyncio.Lock()

    def _managed(self) -> list[Engine]:
        return [*self.engines, *([self.hub] if self.hub else [])]

    def of_kind(self, kind: str) -> list[Engine]:
        return [e for e in self._managed() if e.kind == kind]

    def local_names(self, *, refresh: bool = False) -> set[str]:
        catalog = getattr(next(iter(self.of_kind("local")), None), "catalog", None)
        return set(catalog(refresh=refresh)) if catalog else set()

    def parse(self, model_id: str) -> ModelRef:
        return parse_model_id(model_id, local_names=self.local_names())

    def canonical_id(self, model_id: str) -> str:
        return self._id_of(self.parse(model_id))

    def listed(self, model_id: str) -> bool:
        """Whether the last inventory (or the embedded catalog) lists the model; asks no engine."""
        try:
            ref = self.parse(model_id)
        except InvalidInput:
            return False
        if ref.kind == "local":
            return ref.name in self.local_names()
        return self._inventory is not None and self._id_of(ref) in self._inventory[1].endpoints

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
            models, endpoints = merge_listings([models for models, _ in results])
            inventory = Inventory(models=models, health=[h for _, h in results], endpoints=endpoints)
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
            what = {
                "local": "the embedded engine is turned off (ARENA_EMBEDDED)",
                "ollama": "no OLLAMA_HOST",
                "hf": "Hugging Face pulls are off (HF_ENDPOINT=off, or ARENA_EMBEDDED=false)",
            }
            raise EngineUnavailable(f"no engine for {ref.kind} models: {what.get(ref.kind, 'not configured')}")
        # Serving it (per the last inventory, when any endpoint lists it) before not, reachable before
        # recently-down, then fewest requests in flight; ties keep the configured order.
        serving = set(self._inventory[1].endpoints_of(self._id_of(ref))) if self._inventory else set()
        now = time.monotonic()
        return sorted(
            engines,
            key=lambda e: (
                bool(serving) and e.endpoint not in serving,
                self._down_until.get(id(e), 0.0) > now,
                self._in_flight[id(e)],
            ),
        )

    @staticmethod
    def _id_of(ref: ModelRef) -> str:
        return f"openai:{ref.endpoint}/{ref.name}" if ref.kind == "openai" else f"{ref.kind}:{ref.name}"

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

    def engine_for_management(self, model_id: str, *, endpoint: str | None = None) -> tuple[Engine, str]:
        """The engine that pulls / shows a model: the endpoint named, else the best one of its kind."""
        ref = self.parse(model_id)
        candidates = self._candidates(ref)
        if endpoint is None:
            return candidates[0], ref.name
        named = [e for e in candidates if e.endpoint == endpoint.rstrip("/")]
        if not named:
            known = ", ".join(e.endpoint for e in candidates)
            raise InvalidInput(f"no {ref.kind} endpoint {endpoint!r}: the configured ones are {known}")
        return named[0], ref.name

    async def pull(self, model_id: str, *, endpoint: str | None = None) -> AsyncIterator[PullProgress]:
        engine, name = self.engine_for_management(model_id, endpoint=endpoint)
        if not engine.can_pull:
            raise InvalidInput(f"{engine.kind} models cannot be pulled")
        async for progress in engine.pull(name):
            yield progress
        self._inventory = None

    async def delete(self, model_id: str, *, endpoint: str | None = None) -> list[str]:
        """Delete from the endpoint named or, without one, from every endpoint that lists the
        model (the first candidate when none does, so its own "not installed" is the answer).
        Returns the endpoints it was deleted from."""
        engine, name = self.engine_for_management(model_id, endpoint=endpoint)
        if not engine.can_delete:
            raise InvalidInput(f"{engine.kind} models cannot be deleted")
        targets = [engine]
        if endpoint is None:
            serving = (await self.inventory(fresh=True)).endpoints_of(self.canonical_id(model_id))
            targets = [e for e in self._candidates(self.parse(model_id)) if e.endpoint in serving] or targets
        try:
            for target in targets:
                await target.delete(name)
        finally:
            self._inventory = None
        return [target.endpoint for target in targets]

    async def aclose(self) -> None:
        await asyncio.gather(*(e.aclose() for e in self._managed()), return_exceptions=True)
