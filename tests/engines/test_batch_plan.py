"""The pure parts of batching: which tokens a step feeds, and stop strings held back."""

from __future__ import annotations

from arena.engines.batch.plan import Plan
from arena.engines.batch.text import TextStream


def test_prompts_that_join_together_feed_their_common_prefix_once() -> None:
    plan = Plan()
    plan.add_next(0, token=7, pos=12)  # a running sequence's next token
    plan.add_prompts({1: [1, 2, 3, 4], 2: [1, 2, 3, 4], 3: [1, 2, 9], 4: [5, 6]})
    fed = [(e.token, e.pos, sorted(e.seq_ids)) for e in plan.entries]
    assert fed[0] == (7, 12, [0])
    # 1,2 shared by 1-3; 3 by 1 and 2; each identical prompt keeps its own last token (its own logits).
    assert (1, 0, [1, 2, 3]) in fed and (2, 1, [1, 2, 3]) in fed and (3, 2, [1, 2]) in fed
    assert (4, 3, [1]) in fed and (4, 3, [2]) in fed and (9, 2, [3]) in fed
    assert (5, 0, [4]) in fed and (6, 1, [4]) in fed
    assert len(fed) == 1 + 3 + 2 + 1 + 2
    assert plan.shared == {1: 3, 2: 3, 3: 2}
    owners = sorted(e.owner for e in plan.entries if e.logits)
    assert owners == [0, 1, 2, 3, 4], "every sequence samples from logits of its own"
    for entry in plan.entries:  # a sequence's tokens come in position order
        assert entry.pos >= 0
    order = [(e.pos, s) for e in plan.entries[1:] for s in e.seq_ids]
    for seq in (1, 2, 3, 4):
        positions = [p for p, s in order if s == seq]
        assert positions == sorted(positions)


def test_a_stop_string_split_across_pieces_ends_the_text_before_it() -> None:
    text = TextStream(["<end>"])
    assert text.feed(b"Hello <e") == "Hello "  # "<e" might begin the stop string: held back
    assert text.feed(b"n") == ""
    assert text.feed(b"d> ignored") == ""
    assert text.stopped and text.flush() == ""


def test_held_text_goes_out_when_the_stop_string_does_not_complete() -> None:
    text = TextStream(["<end>"])
    assert text.feed(b"a <e") == "a "
    assert text.feed(b"x") == "<ex"
    assert text.feed(b" <") == " "
    assert text.flush() == "<"


def test_a_character_split_across_tokens_is_whole_when_it_goes_out() -> None:
    text = TextStream([])
    snow = "❄".encode()
    assert text.feed(snow[:1]) == ""
    assert text.feed(snow[1:]) == "❄"
