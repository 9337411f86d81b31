"""The shape of a benchmark report: the JSON document ``report.json`` holds, typed.

TypedDicts rather than dataclasses because the report *is* that JSON document: ``data``
builds these dicts and every renderer reads them, so what is typed here is exactly what a
client of ``report.json`` (or of the API's JSON report) receives, key for key and in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from arena.evaluation.bench.report.judges import JudgesSectionData
from arena.evaluation.bench.report.pass_rates import PassRatesData


class RunData(TypedDict):
    id: str
    name: str
    status: str  # as a reader should see it: a run whose worker is gone is "interrupted"
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    seed: int
    repeats: int
    concurrency: int
    system: str | None


class PromptSetData(TypedDict):
    name: str
    file: str | None  # the file name it came from, when it came from a file
    sha256: str
    prompts: int
    categories: list[str]


class InstanceData(TypedDict):
    """A contestant as the run recorded it (model and the six sampling options), plus its label."""

    instance_id: str
    model: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    num_predict: int
    seed: int
    label: str


class JudgeData(TypedDict):
    instance_id: str
    model: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    num_predict: int
    seed: int
    mode: str  # "pairs" or "baseline"
    baseline: str | None  # the baseline's instance id


class EngineData(TypedDict):
    engine: str
    endpoint: str
    reachable: bool
    version: str | None


class ModelSizeData(TypedDict):
    size_bytes: int | None  # the model's file(s) on disk
    resident_bytes: int | None  # memory it takes when loaded, where the engine says


class EnvironmentData(TypedDict, total=False):
    """One runner session's versions; written by the runner, so older runs may lack a key."""

    started_at: str
    arena: str
    python: str
    platform: str
    engines: list[EngineData]
    worker: str
    host: str  # written by bench workers
    models: dict[str, ModelSizeData]  # model id -> sizes the engines reported (since the Pareto charts)


class SummaryData(TypedDict):
    items: dict[str, int]  # status -> count
    judgments: dict[str, int]
    failed: int


class StatsData(TypedDict):
    n: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None


class PerformanceData(TypedDict):
    """One instance's speed (on one host, when the run's answers came from several)."""

    instance_id: str
    label: str  # the instance's label, plus " @ host" when the run's answers came from several hosts
    host: str | None  # the machine that produced these answers; None when not recorded
    items_done: int
    items_failed: int
    tokens: int
    tokens_per_sec: StatsData
    ttft_s: StatsData
    duration_s: StatsData


class LeaderboardRowData(TypedDict):
    """A ``ratings.fit.LeaderboardRow`` as JSON, plus the instance's label."""

    model: str  # the instance id
    rating: float
    ci_low: float | None
    ci_high: float | None
    rank: int
    battles: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    label: str


class LeaderboardData(TypedDict):
    """``ratings.fit.Leaderboard.to_dict()``, with labels for the rows and the matrices."""

    rows: list[LeaderboardRowData]
    models: list[str]
    win_rate: list[list[float | None]]
    counts: list[list[int]]
    total_battles: int
    rounds: int
    seed: int
    labels: list[str]
    all_ties: bool  # every judged pair a tie (or both bad): the ratings cannot tell the instances apart
    note: str | None  # says so, when all_ties


class CategoryCell(TypedDict):
    """One instance's judged pairs in one category; both-bad counts as a tie."""

    wins: int
    losses: int
    ties: int
    win_rate: float | None


class FailureData(TypedDict):
    prompt_id: str
    what: str
    error: str | None


class ReportData(TypedDict):
    format: str
    generated_at: str
    run: RunData
    prompt_set: PromptSetData
    instances: list[InstanceData]
    judge: JudgeData | None
    environment: list[EnvironmentData]
    hosts: list[str]  # the machines that produced the answers (bench workers may be several)
    reproduce: str  # the shell command that runs the benchmark again
    summary: SummaryData
    performance: list[PerformanceData]
    leaderboard: LeaderboardData | None  # None when nothing was judged
    categories: dict[str, dict[str, CategoryCell]]  # category -> instance id -> cell
    failures: list[FailureData]
    pass_rates: PassRatesData | None  # a promptfoo config's tests; None for a plain prompt set
    judges: JudgesSectionData | None  # the judge's consistency and bias on this run; None when nothing was judged


class ItemData(TypedDict):
    prompt_id: str
    category: str | None
    turns: list[str]
    reference: Any
    instance_id: str
    model: str
    repeat: int
    seed: int
    status: str
    attempts: int
    answers: list[str] | None
    error: str | None
    prompt_tokens: int | None
    tokens: int | None
    ttft_s: float | None
    duration_s: float | None
    tokens_per_sec: float | None
    host: str | None  # the machine that produced the answer
    engine: str | None  # the engine kind + endpoint id, e.g. "ollama:http://gpu-1:11434"
    worker: str | None  # the process that produced it (host:pid:token)
    grade: dict[str, Any] | None  # a promptfoo test's result: pass, score, reason, results
    started_at: str | None
    finished_at: str | None


class JudgmentData(TypedDict):
    prompt_id: str
    category: str | None
    repeat: int
    instance_a: str
    instance_b: str
    status: str
    outcome: str | None
    detail: dict[str, Any] | None
    error: str | None
    host: str | None
    engine: str | None


@dataclass(frozen=True, kw_only=True)
class BenchReport:
    """The report of one run: the summary, and every item and judgment in full."""

    data: ReportData
    items: list[ItemData]
    judgments: list[JudgmentData]

    @property
    def labels(self) -> dict[str, str]:
        """Instance id -> the short name charts and tables show."""
        return {i["instance_id"]: i["label"] for i in self.data["instances"]}

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: the summary's keys, then the items and the judgments."""
        return {**self.data, "items": self.items, "judgments": self.judgments}
