"""The embedded engine: llama.cpp in process, through llama-cpp-python.

By default every model has one decode loop that batches all its running answers
(engines/batch/). With ARENA_EMBEDDED_BATCHING=0 the per-object path below runs instead:
generation runs on a thread of its own per stream (decode_threads.py says why not a pool);
tokens cross to the event loop through an asyncio queue. Stopping sets an event that a llama.cpp stopping criterion checks after every
sampled token, so a stop takes effect within one token and the object goes back to the pool.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, Usage
from arena.engines.batch.loop import DecodeLoop, Prepare
from arena.engines.batch.resident import LoopSource, ResidentLoops
from arena.engines.batch.sampling import MIN_P
from arena.engines.batch.sequence import Done, Event, Failed, Text
from arena.engines.batch.streams import BatchedModels
from arena.engines.catalog import CatalogEntry, builtin_entries, folder_entries, gemma3_gguf_path, size_on_disk
from arena.engines.decode_threads import OwnThreads
from arena.engines.footprint import loaded_bytes
from arena.engines.llama_cold import prompt_s, start_cold
from arena.engines.llama_pool import LlamaPool
from arena.engines.loaded_files import LoadedFiles
from arena.engines.prompt_format import FormattedPrompt, completion_prompt, template_prompt
from arena.engines.pulled_models import delete_local
from arena.engines.residency import Residency, default_budget_bytes
from arena.engines.thread_share import Seat, ThreadShare
from arena.errors import EngineError, EngineRejected, ModelNotAvailable

if TYPE_CHECKING:
    from llama_cpp import Llama


@dataclass(frozen=True)
class _Timing:
    wait_s: float  # waiting for a free slot (ARENA_EMBEDDED_SLOTS)
    load_s: float | None  # loading the Llama object this request waited for; None: reused one


class _StopOrCount:
    """A llama.cpp stopping criterion: counts sampled tokens and ends generation on request.
    Called on the generation thread between tokens, it also keeps the thread share current."""

    def __init__(self, stop: threading.Event, seat: Seat, llm: Llama) -> None:
        self.stop = stop
        self.seat = seat
        self.llm = llm
        self.sampled = 0

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        if self.stop.is_set():
            return True
        self.sampled += 1
        self.seat.apply(self.llm)
        return False


class EmbeddedEngine(Engine):
    kind = "local"
    can_delete = True  # models the arena pulled from Hugging Face (pulled_models.delete_local)

    def __init__(
        self,
        *,
        data_dir: Path,
        models_dir: Path,
        slots: int = 2,
        n_ctx: int = 2048,
        threads: int | None = None,
        max_memory: int | None = None,
        batching: bool = True,
    ) -> None:
        super().__init__(endpoint="in-process")
        self.data_dir = data_dir
        self.models_dir = models_dir
        self.slots = slots
        self.n_ctx = n_ctx
        self.cpu_count = threads or default_thread_budget()
        self._catalog: dict[str, CatalogEntry] | None = None
        self._pools: dict[str, LlamaPool] = {}
        self._share = ThreadShare(self.cpu_count)
        self.residency = Residency(budget_bytes=max_memory or default_budget_bytes())  # ARENA_EMBEDDED_MAX_MEMORY
        self.batching = batching
        self._batched = BatchedModels(slots=slots, n_ctx=n_ctx, share=self._share)
        self._resident_loops = ResidentLoops(self._batched, self.residency, self._loop_source)
        self.loaded_files = LoadedFiles(self.residency, self._batched, self._pools)  # deleted/replaced files
        # Generation threads of their own: they never starve the default executor (DB writes),
        # and none outlives its generation (decode_threads.py).
        self._generations = OwnThreads("llama")

    def catalog(self, *, refresh: bool = False) -> dict[str, CatalogEntry]:
        """The models on disk, looked up once and again whenever the model list is asked for."""
        if self._catalog is None or refresh:
            entries = builtin_entries() + folder_entries(self.models_dir)
            self._catalog = {entry.name: entry for entry in entries}
        return self._catalog

    async def list_models(self) -> list[ModelInfo]:
        await self.loaded_files.check_all()  # a file deleted or replaced by hand unloads now
        catalog = await asyncio.to_thread(self.catalog, refresh=True)
        memory = await asyncio.to_thread(self._memory_of, list(catalog.values()))
        loaded = self.residency.snapshot()
        return [
            ModelInfo(
                id=f"local:{entry.name}",
                engine=self.kind,
                name=entry.name,
                endpoint=self.endpoint,
                size=size_on_disk(entry),
                family=entry.family,
                parameter_size=entry.parameter_size,
                quantization=entry.quantization,
                base_model=entry.base_model,
                loaded=entry.name in loaded,
                resident_bytes=loaded[entry.name].bytes if entry.name in loaded else memory[entry.name],
            )
            for entry in catalog.values()
        ]

    def _memory_of(self, entries: list[CatalogEntry]) -> dict[str, int | None]:
        """Each model's bytes when loaded on this engine's path (weights + KV caches); None if unreadable."""
        size = partial(loaded_bytes, slots=self.slots, n_ctx=self.n_ctx, batched=self.batching)
        return {entry.name: size(entry) for entry in entries}

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(delete_local, self.models_dir, name)
        await self.forget(name)

    async def forget(self, name: str) -> None:
        """The file of local:<name> was deleted (here or by an hf: delete): unload it, list it no more."""
        await asyncio.to_thread(self.catalog, refresh=True)
        await self.loaded_files.retire(name)

    async def health(self) -> EngineHealth:
        try:
            import llama_cpp

            count = len(self.catalog())
            return EngineHealth(
                engine=self.kind,
                endpoint=self.endpoint,
                reachable=True,
                version=llama_cpp.__version__,
                detail=f"{count} models",
            )
        except Exception as exc:  # health never raises
            return EngineHealth(engine=self.kind, endpoint=self.endpoint, reachable=False, detail=str(exc))

    def _entry(self, name: str) -> CatalogEntry:
        entry = self.catalog().get(name) or self.catalog(refresh=True).get(name)
        if entry is None:
            raise ModelNotAvailable(
                f"model 'local:{name}' is not in the embedded catalog: put its .gguf file in {self.models_dir}"
            )
        return entry

    async def ensure_loop(self, name: str) -> tuple[DecodeLoop, float | None]:
        """The model's decode loop, loaded (within the memory budget) if needed and left idle, and
        the seconds this call spent loading it. Streams hold it instead (ResidentLoops.hold)."""
        await self._check_file(name)
        loop, load_s, hold = await self._resident_loops.hold(name)
        hold.leave()
        return loop, load_s

    async def _loop_source(self, name: str) -> LoopSource:
        entry = self._entry(name)
        path = entry.path or await asyncio.to_thread(gemma3_gguf_path, self.data_dir)
        self.loaded_files.loading(name, path)
        # Unreadable header: charge the file alone, and let its load say what is wrong with it.
        load_bytes = (await asyncio.to_thread(self._memory_of, [entry]))[name] or path.stat().st_size
        return LoopSource(path=path, load_bytes=load_bytes, prepare_for=lambda llm: _preparer(llm, entry))

    async def _pool_for(self, name: str) -> tuple[LlamaPool, CatalogEntry]:
        entry = self._entry(name)
        pool = self._pools.get(name)
        if pool is None:
            path = entry.path or await asyncio.to_thread(gemma3_gguf_path, self.data_dir)
            self.loaded_files.loading(name, path)
            load_bytes = (await asyncio.to_thread(self._memory_of, [entry]))[name] or path.stat().st_size
            pool = self._pools.setdefault(
                name,
                LlamaPool(
                    path=path,
                    slots=self.slots,
                    n_ctx=self.n_ctx,
                    n_threads=max(1, self.cpu_count // self.slots),
                    residency=self.residency,
                    key=name,
                    load_bytes=load_bytes,
                ),
            )
        return pool, entry

    async def _check_file(self, name: str) -> None:
        if await self.loaded_files.check(name):  # replaced or deleted: the catalog says which
            await asyncio.to_thread(self.catalog, refresh=True)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        await self._check_file(request.model)
        if self.batching:
            loop, load_s, hold = await self._resident_loops.hold(request.model)
            try:
                async for chunk in self._batched.stream(request.model, loop, request, load_s, hold.leave):
                    yield chunk
            finally:
                hold.leave()
            return
        pool, entry = await self._pool_for(request.model)
        wait_s = await pool.wait_for_slot()
        # Running from here (loading counts): the cores are shared among the seats held now.
        seat = self._share.join()
        try:
            llm, load_s = await pool.take()
        except BaseException:
            seat.leave()
            raise
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        stop = threading.Event()
        timing = _Timing(wait_s=wait_s, load_s=load_s)

        def emit(item: Event) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            # Answers started together join before any reads its share: none gets a head start.
            await asyncio.sleep(0)
            future = self._generations.run(_generate, llm, entry, request, seat, timing, stop, emit)
        except BaseException:
            seat.leave()
            pool.release(llm)
            raise
        # The object goes back only when the thread is done with it, even if we are cancelled.
        # An asyncio future runs its callbacks on the loop, so no thread hand-off is needed.
        given_back = False

        def give_back(_future: object = None) -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                seat.leave()
                pool.release(llm)

        future.add_done_callback(give_back)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Text):
                    yield Chunk(text=item.text)
                    continue
                # The thread's last act. Shielded: a cancel must not mark the future done (and lend the
                # object) under the thread. Given back here, not at the callback's later turn, so the
                # model is idle when the final chunk is read (the memory budget's view).
                await asyncio.shield(future)
                give_back()
                if isinstance(item, Done):
                    yield Chunk(usage=item.usage, finish_reason=item.finish_reason)
                    return
                raise item.error
        finally:
            stop.set()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._generations.join)
        await asyncio.to_thread(self._batched.close)
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def default_thread_budget() -> int:
    """Cores for generation, shared among the streams running at once (ARENA_EMBEDDED_THREADS overrides)."""
    return os.cpu_count() or 1


def _format(llm: Llama, entry: CatalogEntry, request: GenerationRequest) -> FormattedPrompt:
    if entry.base_model:
        return completion_prompt(request.messages)
    return template_prompt(llm, request.messages)  # a GGUF without a template gets completion_prompt too


def _preparer(llm: Llama, entry: CatalogEntry) -> Prepare:
    def prepare(request: GenerationRequest) -> tuple[list[int], list[str]]:
        prompt = _format(llm, entry, request)
        return llm.tokenize(prompt.text.encode("utf-8"), add_bos=prompt.add_bos, special=True), list(prompt.stop)

    return prepare


def _generate(
    llm: Llama,
    entry: CatalogEntry,
    request: GenerationRequest,
    seat: Seat,
    timing: _Timing,
    stop: threading.Event,
    emit: Callable[[Event], None],
) -> None:
    """Runs on a worker thread: generate, pushing text pieces and a final usage record."""
    try:
        from llama_cpp import LlamaGrammar, StoppingCriteriaList

        seat.apply(llm)
        prompt = _format(llm, entry, request)
        tokens = llm.tokenize(prompt.text.encode("utf-8"), add_bos=prompt.add_bos, special=True)
        options = request.options
        if len(tokens) >= llm.n_ctx():
            # No count of the model's own: on a blind card it would tell the tokenizers apart.
            raise EngineRejected(
                f"the conversation is longer than the {llm.n_ctx()} tokens of context every embedded model gets "
                "(ARENA_EMBEDDED_N_CTX): shorten it or start a new conversation"
            )
        if options.num_predict == 0:
            usage = Usage(
                prompt_tokens=len(tokens),
                completion_tokens=0,
                cached_prompt_tokens=0,
                wait_s=timing.wait_s,
                load_s=timing.load_s,
            )
            emit(Done(usage, "length"))
            return
        start_cold(llm)
        counter = _StopOrCount(stop, seat, llm)
        grammar = (
            LlamaGrammar.from_json_schema(json.dumps(request.json_schema), verbose=False)
            if request.json_schema
            else None
        )
        pieces = llm.create_completion(
            tokens,
            stream=True,
            max_tokens=None if options.num_predict < 0 else options.num_predict,
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            repeat_penalty=options.repeat_penalty,
            seed=options.seed or secrets.randbelow(2**31 - 1) + 1,
            min_p=MIN_P,
            stop=prompt.stop,
            stopping_criteria=StoppingCriteriaList([counter]),
            grammar=grammar,
        )
        finish_reason = "length"
        for piece in pieces:
            choice = piece["choices"][0]
            if choice["text"]:
                emit(Text(choice["text"]))
            finish_reason = choice.get("finish_reason") or finish_reason
        if stop.is_set():
            finish_reason = "stopped"
        # The criterion sees every sampled token: the end-of-generation token (not output) and,
        # at the length limit, one sampled after the last that llama-cpp-python then drops.
        limit = options.num_predict if options.num_predict > 0 else llm.n_ctx() - len(tokens)
        completion = min(counter.sampled, limit)
        if finish_reason == "stop" and completion:
            completion -= 1
        usage = Usage(
            prompt_tokens=len(tokens),
            completion_tokens=completion,
            cached_prompt_tokens=0,
            prompt_s=prompt_s(llm),
            wait_s=timing.wait_s,
            load_s=timing.load_s,
            engine_settings={"min_p": MIN_P},
        )
        emit(Done(usage, finish_reason))
    except EngineError as exc:
        emit(Failed(exc))
    except Exception as exc:  # a llama.cpp failure becomes this instance's error, not a crash
        emit(Failed(EngineError(f"the embedded engine failed: {exc}")))
