"""What one decode step feeds: the next token of every running sequence and the prompts of
those joining, where prompts that joined together share their common prefix. A shared token
goes into the batch once with the ids of every sequence it belongs to, so llama.cpp evaluates
it once and each of those sequences' KV cache holds it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Entry:
    token: int
    pos: int
    seq_ids: list[int]
    logits: bool = False
    owner: int = -1  # the sequence that samples from this entry's logits


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    shared: dict[int, int] = field(default_factory=dict)  # seq_id -> prompt tokens shared

    def add_next(self, seq_id: int, token: int, pos: int) -> None:
        self.entries.append(Entry(token=token, pos=pos, seq_ids=[seq_id], logits=True, owner=seq_id))

    def add_prompts(self, prompts: dict[int, list[int]]) -> None:
        """Prompts of sequences joining in this step (in join order), from position 0."""
        placed: dict[tuple[int, int], Entry] = {}
        earlier: list[tuple[int, list[int]]] = []
        for seq_id, tokens in prompts.items():
            leader, common = _longest_common(tokens, earlier)
            # The last prompt token is its own: each sequence samples from its own logits.
            common = min(common, len(tokens) - 1)
            for pos, token in enumerate(tokens):
                if leader is not None and pos < common:
                    entry = placed[(leader, pos)]
                    entry.seq_ids.append(seq_id)
                else:
                    entry = Entry(token=token, pos=pos, seq_ids=[seq_id])
                    self.entries.append(entry)
                placed[(seq_id, pos)] = entry
            last = placed[(seq_id, len(tokens) - 1)]
            last.logits, last.owner = True, seq_id
            if leader is not None and common > 0:
                self.shared[seq_id] = common
                self.shared[leader] = max(self.shared.get(leader, 0), common)
            earlier.append((seq_id, tokens))


def _longest_common(tokens: list[int], earlier: list[tuple[int, list[int]]]) -> tuple[int | None, int]:
    best: tuple[int | None, int] = (None, 0)
    for seq_id, other in earlier:
        n = 0
        for a, b in zip(tokens, other, strict=False):
            if a != b:
                break
            n += 1
        if n > best[1]:
            best = (seq_id, n)
    return best
