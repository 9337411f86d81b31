"""The styles of the answers behind each battle, for style control.

Computed on read, once per answer: the features of every answer read are kept in a bounded
in-process cache keyed by ``storage.answer_texts.AnswerKey`` (which changes when the row could
have), so a later request reads and decrypts only the answers it has not seen. An answer is
never changed once finished (a regenerate writes a new one), so the cache cannot go stale.

Which answers a signal was about: a verdict that names its answers, those; a thumb, its answer;
a benchmark verdict, the two items of its prompt and repeat; a pairwise vote, each instance's
latest finished answer in the turn (the vote route refuses a vote on an answer already replaced;
an answer regenerated after the vote is taken as the one voted on). A verdict stored before the
arena recorded judged answers has no style and is left out of style control.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.orm import Session

from arena.evaluation.ratings.style_features import StyleFeatures, style_features
from arena.storage.answer_texts import AnswerKey, BattleAnswers, answer_texts, battle_answers
from arena.storage.battle_rows import PAIRWISE_VERDICT, PAIRWISE_VOTE, BattleRow
from arena.storage.battle_signals import BattleSignals, JudgmentSignal, PairwiseVoteSignal, ThumbSignal

CACHE_SIZE: Final = 200_000  # answers; about 200 bytes each

_lock = threading.Lock()
_cache: OrderedDict[AnswerKey, StyleFeatures] = OrderedDict()

Styles = dict[str, StyleFeatures | None]  # style_a / style_b, as Battle takes them


def cached_styles(session: Session, keys: Iterable[AnswerKey]) -> dict[AnswerKey, StyleFeatures]:
    """The features of each answer: from the cache, or read, computed and remembered."""
    wanted = set(keys)
    with _lock:
        found = {key: _cache[key] for key in wanted if key in _cache}
        for key in found:
            _cache.move_to_end(key)
    computed = {key: style_features(text) for key, text in answer_texts(session, wanted - found.keys()).items()}
    with _lock:
        _cache.update(computed)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return found | computed


def clear_cache() -> None:
    with _lock:
        _cache.clear()


@dataclass(frozen=True, kw_only=True)
class AnswerStyles:
    """Looks up the two answers' styles of each kind of signal; unknown answers give None."""

    answers: BattleAnswers = field(default_factory=lambda: BattleAnswers(latest={}, responses={}, judged={}, bench={}))
    styles: dict[AnswerKey, StyleFeatures] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, signals: BattleSignals) -> AnswerStyles:
        answers = battle_answers(
            session,
            turn_ids={vote.turn_id for vote in signals.pairwise_votes},
            response_ids={thumb.response_id for thumb in signals.thumbs},
            judgment_ids={j.id for j in signals.judgments if j.turn_id is not None},
            bench_judgment_ids={j.id for j in signals.judgments if j.turn_id is None and j.instance_b is not None},
        )
        keys = [
            *answers.latest.values(),
            *answers.responses.values(),
            *(key for pair in answers.bench.values() for key in pair.values()),
        ]
        return cls(answers=answers, styles=cached_styles(session, keys))

    def of_row(self, row: BattleRow) -> Styles:
        """A battle row's two answers: a pairwise vote's are its turn's latest answers, a benchmark
        verdict's the run's items it judged, the others' the answers the row names."""
        if row.kind == PAIRWISE_VOTE:
            latest = self.answers.latest
            return self._pair(latest.get((row.turn_id, row.instance_a)), latest.get((row.turn_id, row.instance_b)))  # type: ignore[arg-type]
        if row.kind == PAIRWISE_VERDICT and row.turn_id is None:
            items = self.answers.bench.get(row.group_key, {})  # a turn-less verdict is its own group
            return self._pair(items.get(row.instance_a), items.get(row.instance_b))
        return self._pair(self._response(row.response_a_id), self._response(row.response_b_id))

    def of_vote(self, vote: PairwiseVoteSignal) -> Styles:
        latest = self.answers.latest
        return self._pair(latest.get((vote.turn_id, vote.instance_a)), latest.get((vote.turn_id, vote.instance_b)))

    def of_thumbs(self, first: ThumbSignal, second: ThumbSignal) -> Styles:
        responses = self.answers.responses
        return self._pair(responses.get(first.response_id), responses.get(second.response_id))

    def of_judgment(self, judgment: JudgmentSignal) -> Styles:
        if judgment.turn_id is None:
            items = self.answers.bench.get(judgment.id, {})
            return self._pair(items.get(judgment.instance_a), items.get(judgment.instance_b or ""))
        answer_a, answer_b = self.answers.judged.get(judgment.id, (None, None))
        return self._pair(self._response(answer_a), self._response(answer_b))

    def of_grades(self, first: JudgmentSignal, second: JudgmentSignal) -> Styles:
        """Two single-answer grades: each grade's own answer."""
        return self._pair(
            self._response(self.answers.judged.get(first.id, (None, None))[0]),
            self._response(self.answers.judged.get(second.id, (None, None))[0]),
        )

    def _response(self, response_id: int | None) -> AnswerKey | None:
        return None if response_id is None else self.answers.responses.get(response_id)

    def _pair(self, first: AnswerKey | None, second: AnswerKey | None) -> Styles:
        return {
            "style_a": None if first is None else self.styles.get(first),
            "style_b": None if second is None else self.styles.get(second),
        }
