"""/api/bench: a run's progress, the list of runs, and what resuming one asks for."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RunPublic(BaseModel):
    """A run's progress: counts by status, rate and estimated time left while it runs."""

    id: str
    name: str
    status: str = Field(description="pending, queued, running, cancelling, interrupted, cancelled or done")
    prompt_set: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    items: dict[str, int]
    judgments: dict[str, int]
    total: int
    finished: int
    failed: int
    instances: list[dict[str, Any]]
    judge: dict[str, Any] | None
    per_instance: dict[str, dict[str, int]]
    rate_per_s: float | None
    eta_s: float | None
    running_here: bool = Field(False, description="Whether this server process is running it")
    queued: bool = Field(
        False, description="Whether `arena bench worker` processes serve it (ARENA_BENCH_RUNNER=workers)"
    )
    waiting_for_worker: bool = Field(False, description="Queued, and no bench worker has taken any of it for a while")
    tests: dict[str, int] | None = Field(
        None, description="A promptfoo run's tests graded so far: passed and total (a failed generation fails its test)"
    )
    judge_warning: str | None = Field(
        None,
        description="On creation: the chosen judge was inconsistent on most of its stored pairs (GET /api/judges), "
        "and what to do about it; null otherwise",
    )
    grader_warning: str | None = Field(
        None, description="On creation: who grades a promptfoo config's llm-rubric assertions, when promptfoo "
        "itself would send them elsewhere (its cloud grader) or --judge replaces the config's grader",
    )  # fmt: skip


class RunList(BaseModel):
    runs: list[RunPublic]


class ResumeCreate(BaseModel):
    retry_errors: bool = Field(False, description="Also redo the items and judgments that failed")
