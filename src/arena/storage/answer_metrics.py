"""What makes two answers' speeds comparable: their generation round and cache state.

Kept beside `repository` (which writes the answer itself) so its functions stay short.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from arena.storage.models import Response


def next_generation_round(session: Session, *, turn_id: int) -> int:
    """A round no answer of this turn has yet: a regenerate is measured alone."""
    latest = session.scalar(select(func.max(Response.generation_round)).where(Response.turn_id == turn_id))
    return 0 if latest is None else latest + 1


def record_cache_and_finish(
    session: Session,
    *,
    response_id: int,
    cached_prompt_tokens: int | None,
    prompt_s: float | None,
    finish_reason: str | None,
    wait_s: float | None = None,
    load_s: float | None = None,
    engine_timed: bool | None = None,
    contended: bool | None = None,
) -> None:
    """Store how much of the prompt a cache served, the prompt time, why generation ended, the
    wait for a slot, the model load, which clock timed tokens/s and whether another round's
    generation ran beside it: what the crown needs."""
    values = cache_and_finish_values(
        cached_prompt_tokens=cached_prompt_tokens,
        prompt_s=prompt_s,
        finish_reason=finish_reason,
        wait_s=wait_s,
        load_s=load_s,
        engine_timed=engine_timed,
        contended=contended,
    )
    session.execute(
        update(Response).where(Response.id == response_id).values(**values),
        execution_options={"synchronize_session": False},
    )


def cache_and_finish_values(
    *,
    cached_prompt_tokens: int | None,
    prompt_s: float | None,
    finish_reason: str | None,
    wait_s: float | None = None,
    load_s: float | None = None,
    engine_timed: bool | None = None,
    contended: bool | None = None,
) -> dict[str, Any]:
    """`record_cache_and_finish`'s columns, for a statement that ends the answer too
    (`answer_end.close_response`'s `values`)."""
    return {
        "cached_prompt_tokens": cached_prompt_tokens,
        "prompt_s": prompt_s,
        "finish_reason": finish_reason,
        "wait_s": wait_s,
        "load_s": load_s,
        "engine_timed": engine_timed,
        "contended": contended,
    }
