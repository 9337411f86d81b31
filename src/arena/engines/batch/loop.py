"""The decode loop: one thread per loaded model steps every running sequence at once.

Each step feeds the next token of every running sequence plus the whole prompts of those
joining (their shared prefix once), decodes them in one llama.cpp call, and samples each
sequence from its own logits with its own chain. A sequence leaves when it ends, is stopped or
fails; its slot goes to the next waiting one at the following step. Nothing one sequence does
(an error, a stop) ends another.

The thread lives only while the model has work (engines/decode_threads.py says why: an idle
thread that once decoded slows every other model's decoding 2-3x)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from arena.engines.base import GenerationRequest
from arena.engines.batch.context import BatchContext
from arena.engines.batch.plan import Plan
from arena.engines.batch.sampling import build_chain, free_chain
from arena.engines.batch.sequence import Done, Failed, Sequence, Text
from arena.engines.batch.text import TextStream
from arena.engines.thread_share import Seat, ThreadShare
from arena.errors import EngineError, EngineRejected

logger = logging.getLogger(__name__)

# A request's prompt tokens (BOS and special tokens included) and its stop strings.
Prepare = Callable[[GenerationRequest], tuple[list[int], list[str]]]


class DecodeLoop:
    def __init__(self, *, context: BatchContext, prepare: Prepare, share: ThreadShare, name: str) -> None:
        self.context = context
        self._prepare = prepare
        self._share = share
        self._lock = threading.Lock()
        self._pending: deque[Sequence] = deque()
        self._active: dict[int, Sequence] = {}
        self._free = list(range(context.slots))
        self._closing = False
        self._seat: Seat | None = None
        self._name = name
        self._thread: threading.Thread | None = None  # only while there is work

    def submit(self, sequences: list[Sequence]) -> None:
        """From the event loop: these join at the next step (together, so they can share a prefix)."""
        with self._lock:
            if self._closing:
                for seq in sequences:
                    seq.emit(Failed(EngineError("the embedded engine is shutting down")))
                return
            self._pending.extend(sequences)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"decode-{self._name}", daemon=True)
                self._thread.start()

    @property
    def running(self) -> int:
        return len(self._active)

    def refuse(self) -> None:
        """Unloading (cheap, under the memory registry's lock): no sequence joins from now and the
        thread ends after its current step; `close` (on a worker thread) frees the rest."""
        with self._lock:
            self._closing = True

    def close(self) -> None:
        with self._lock:
            self._closing = True
            thread = self._thread
        if thread is not None:
            thread.join()
        for seq in list(self._pending) + list(self._active.values()):
            seq.emit(Failed(EngineError("the embedded engine is shutting down")))
            free_chain(seq.chain)
        self._pending.clear()
        self._active.clear()
        self.context.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closing or not (self._pending or self._active):
                    # Idle or unloading: the thread ends (the next submit starts another).
                    self._leave_share()
                    self._thread = None
                    return
                joining = [self._pending.popleft() for _ in range(min(len(self._free), len(self._pending)))]
                for seq in self._pending:  # no slot for these: they wait, and their cards say so
                    seq.waited = True
            try:
                self._step(joining)
            except Exception as exc:  # a failed decode: every sequence in it gets the error
                logger.exception("the embedded batch failed")
                for seq in list(self._active.values()):
                    self._finish(seq, error=EngineError(f"the embedded engine failed: {exc}"))

    def _leave_share(self) -> None:
        if self._seat is not None:
            self._seat.leave()
            self._seat = None

    def _step(self, joining: list[Sequence]) -> None:
        for seq in list(self._active.values()):
            if seq.stop.is_set():
                self._finish(seq, reason="stopped")
        if self._seat is None and (joining or self._active):
            self._seat = self._share.join()
        plan = Plan()
        for seq in self._active.values():
            plan.add_next(seq.seq_id, seq.last_token, seq.n_past)
        prompts = {seq.seq_id: seq.prompt for seq in (s for s in joining if self._join(s))}
        plan.add_prompts(prompts)
        if not plan.entries:
            return
        if self._seat is not None:
            self.context.set_threads(self._seat.threads())
        outputs = self.context.decode(plan)
        now = time.perf_counter()
        for seq_id, shared in plan.shared.items():
            self._active[seq_id].shared_prompt_tokens = shared
        for seq_id, index in outputs.items():
            seq = self._active[seq_id]
            seq.n_past = len(seq.prompt) if seq.first is None else seq.n_past + 1
            try:
                self._advance(seq, index, now)
            except Exception as exc:  # this sequence's sampler or text failed: it alone ends
                error = exc if isinstance(exc, EngineError) else EngineError(f"the embedded engine failed: {exc}")
                self._finish(seq, error=error)

    def _join(self, seq: Sequence) -> bool:
        """Take a slot for the sequence; False when it ended before generating (refused, zero tokens)."""
        try:
            seq.prompt, stop = self._prepare(seq.request)
            room = self.context.n_ctx - len(seq.prompt)
            if room <= 0:
                # No count of the model's own: on a blind card it would tell the tokenizers apart.
                raise EngineRejected(
                    f"the conversation is longer than the {self.context.n_ctx} tokens of context every embedded "
                    "model gets (ARENA_EMBEDDED_N_CTX): shorten it or start a new conversation"
                )
            predict = seq.request.options.num_predict
            seq.limit = room if predict < 0 else min(predict, room)
            seq.joined = time.perf_counter()
            if predict == 0 or seq.stop.is_set():
                seq.emit(Done(seq.usage(), "length" if predict == 0 else "stopped"))
                return False
            seq.chain = build_chain(self.context.vocab, self.context.n_vocab, seq.settings)
            seq.text = TextStream(stop)
        except Exception as exc:
            seq.emit(Failed(exc if isinstance(exc, EngineError) else EngineError(f"the embedded engine failed: {exc}")))
            return False
        seq.seq_id = self._free.pop()
        self._active[seq.seq_id] = seq
        return True

    def _advance(self, seq: Sequence, index: int, now: float) -> None:
        token = self.context.sample(seq.chain, index)
        if self.context.is_end(token):
            self._finish(seq, reason="stop")
            return
        seq.generated += 1
        seq.first = seq.first if seq.first is not None else now
        seq.last = now
        seq.last_token = token
        assert seq.text is not None
        text = seq.text.feed(self.context.piece(token))
        if text:
            seq.emit(Text(text))
        if seq.text.stopped:
            self._finish(seq, reason="stop")
        elif seq.generated >= seq.limit:
            self._finish(seq, reason="length")

    def _finish(self, seq: Sequence, *, reason: str = "stop", error: BaseException | None = None) -> None:
        if error is not None:
            seq.emit(Failed(error))
        else:
            rest = seq.text.flush() if seq.text is not None else ""
            if rest:
                seq.emit(Text(rest))
            seq.emit(Done(seq.usage(), reason))
        self._active.pop(seq.seq_id, None)
        self.context.forget(seq.seq_id)
        free_chain(seq.chain)
        seq.chain = None
        self._free.append(seq.seq_id)
