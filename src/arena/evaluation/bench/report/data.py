"""A benchmark run's report as plain data: what ran (enough to reproduce it), how fast each
instance was, and what the judge decided (Bradley–Terry ratings with bootstrap intervals,
win rates, wins per category). Its shape is typed in ``schema``; ``text`` renders it as
Markdown, ``html`` as one page, and ``render`` as JSON and CSV, writing every file.

Ratings are per instance: two settings of one model are two contestants, as a benchmark that
compares temperatures needs.
"""

from __future__ import annotations

import math
import shlex
import statistics
from collections.abc import Iterable
from typing import Any, Final, cast

from arena.evaluation.bench.control import effective_status
from arena.evaluation.bench.report.judges import judges_section
from arena.evaluation.bench.report.pass_rates import pass_rates
from arena.evaluation.bench.report.schema import (
    BenchReport,
    CategoryCell,
    EnvironmentData,
    InstanceData,
    ItemData,
    JudgeData,
    JudgmentData,
    LeaderboardData,
    PerformanceData,
    ReportData,
    StatsData,
)
from arena.evaluation.ratings.all_ties import ALL_TIES_NOTE, every_battle_tied
from arena.evaluation.ratings.fit import Leaderboard, leaderboard
from arena.evaluation.ratings.names import Contestant, display_names
from arena.evaluation.ratings.pairs import Battle
from arena.storage import bench as store
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.db import Database
from arena.storage.models import SAMPLING_FIELDS, utcnow

REPORT_FORMAT: Final = "arena-bench-report/1"
BOOTSTRAP_ROUNDS: Final = 1000
UNCATEGORIZED: Final = "(none)"


def build_report(*, database: Database, run_id: str, report_dir: str | None = None) -> BenchReport:
    """report_dir: the folder the report is written to, when known (the CLI), for the Reproduce command."""
    with database.session() as session:
        run = store.get_run(session, run_id=run_id)
        items = store.list_items(session, run_id=run_id)
        judgments = store.list_judgments(session, run_id=run_id)
    return report_from_rows(run=run, items=items, judgments=judgments, report_dir=report_dir)


def report_from_rows(
    *, run: BenchRun, items: list[BenchItem], judgments: list[BenchJudgment], report_dir: str | None = None
) -> BenchReport:
    labels = instance_labels(run.instances)
    # The stored records are copied whole, so the report keeps whatever the run recorded.
    instances = [
        cast(InstanceData, {**instance, "label": labels[instance["instance_id"]]}) for instance in run.instances
    ]
    battles = [
        Battle(
            model_a=j.instance_a,
            model_b=j.instance_b,
            outcome=j.outcome,  # type: ignore[arg-type]
            source="judge",
            judge_model=(j.detail or {}).get("judge_model"),
            category=j.category,
        )
        for j in judgments
        if j.status == "done" and j.outcome
    ]
    board = leaderboard(battles, rounds=BOOTSTRAP_ROUNDS, seed=run.seed) if battles else None
    data: ReportData = {
        "format": REPORT_FORMAT,
        "generated_at": utcnow().isoformat(),
        "run": {
            "id": run.id,
            "name": run.name,
            "status": effective_status(run),
            "created_at": _iso(run.created_at),
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "seed": run.seed,
            "repeats": run.repeats,
            "concurrency": run.concurrency,
            "system": run.system,
        },
        "prompt_set": {
            "name": run.prompt_set_name,
            "file": run.prompt_file,
            "sha256": run.prompt_set_sha256,
            "prompts": run.prompt_count,
            "categories": sorted({item.category for item in items if item.category}),
        },
        "instances": instances,
        "judge": cast(JudgeData | None, run.judge),
        "environment": used_engines(run),
        "reproduce": reproduce_command(run, report_dir=report_dir),
        "summary": {
            "items": _count(item.status for item in items),
            "judgments": _count(judgment.status for judgment in judgments),
            "failed": sum(1 for row in [*items, *judgments] if row.status == "error"),
        },
        "hosts": hosts_of(items),
        "performance": performance_rows(instances, items),
        "leaderboard": _leaderboard_data(board, labels) if board else None,
        "categories": category_wins(judgments, [i["instance_id"] for i in instances]),
        "failures": [
            {"prompt_id": row.prompt_id, "what": _what(row), "error": row.error}
            for row in [*items, *judgments]
            if row.status == "error"
        ],
        "pass_rates": pass_rates(items, [i["instance_id"] for i in instances]),
        "judges": judges_section(judgments),
    }
    return BenchReport(
        data=data,
        items=[_item_data(item) for item in items],
        judgments=[_judgment_data(judgment) for judgment in judgments],
    )


def instance_labels(instances: list[dict[str, Any]]) -> dict[str, str]:
    """Short names for tables and charts, as the leaderboard names instances: the model, plus
    the settings that tell its instances apart ("smollm2-135m-instruct · temp 0.2"); or the
    labels the run's config gave them, where it gave each a label of its own."""
    given = [instance.get("label") for instance in instances]
    if all(given) and len(set(given)) == len(given):
        return {instance["instance_id"]: str(instance["label"]) for instance in instances}
    return display_names(
        [
            Contestant(
                key=instance["instance_id"],
                model=instance["model"],
                settings={name: str(instance[name]) for name in SAMPLING_FIELDS if name in instance},
            )
            for instance in instances
        ]
    )


def model_spec(instance: dict[str, Any]) -> str:
    """`model@temperature=…,…`, every option spelled out, as `arena bench run --model` reads it."""
    return instance["model"] + "@" + ",".join(f"{name}={instance[name]}" for name in SAMPLING_FIELDS)


def used_engines(run: BenchRun) -> list[EnvironmentData]:
    """Each session's environment without the engines that were down and that this run never
    calls: "ollama ? (…, unreachable)" on a run of local models is noise, not a finding."""
    models = [instance["model"] for instance in run.instances] + ([run.judge["model"]] if run.judge else [])
    engines = {model.split(":", 1)[0] for model in models}
    return [
        cast(
            EnvironmentData,
            {
                **session,
                "engines": [e for e in session.get("engines", []) if e["reachable"] or e["engine"] in engines],
                **(
                    {"models": {m: s for m, s in session["models"].items() if m in models}}
                    if "models" in session
                    else {}
                ),
            },
        )
        if "engines" in session
        else session
        for session in cast(list[EnvironmentData], run.environment or [])
    ]


def reproduce_command(run: BenchRun, *, report_dir: str | None = None) -> str:
    parts = ["arena", "bench", "run", run.prompt_file or run.prompt_set_name]
    for instance in run.instances:
        parts += ["--model", model_spec(instance)]
    if run.judge:
        parts += ["--judge", model_spec(run.judge)]
        if run.judge.get("baseline"):
            parts += ["--baseline", run.judge["baseline"]]
    parts += ["--repeats", str(run.repeats), "--concurrency", str(run.concurrency), "--seed", str(run.seed)]
    if run.system:
        parts += ["--system", run.system]
    parts += ["--name", run.name, "--report-dir", report_dir or "report"]
    return shlex.join(parts)


def category_wins(judgments: Iterable[BenchJudgment], instance_ids: list[str]) -> dict[str, dict[str, CategoryCell]]:
    """category -> instance -> wins, losses, ties (both-bad counts as a tie) and win rate."""
    table: dict[str, dict[str, CategoryCell]] = {}
    for judgment in judgments:
        if judgment.status != "done" or not judgment.outcome:
            continue
        row = table.setdefault(judgment.category or UNCATEGORIZED, {})
        for side, won, lost in ((judgment.instance_a, "a", "b"), (judgment.instance_b, "b", "a")):
            cell = row.setdefault(side, {"wins": 0, "losses": 0, "ties": 0, "win_rate": None})
            if judgment.outcome == won:
                cell["wins"] += 1
            elif judgment.outcome == lost:
                cell["losses"] += 1
            else:
                cell["ties"] += 1
    for row in table.values():
        for cell in row.values():
            played = cell["wins"] + cell["losses"] + cell["ties"]
            cell["win_rate"] = (cell["wins"] + 0.5 * cell["ties"]) / played if played else None
    order = {instance_id: position for position, instance_id in enumerate(instance_ids)}
    return {
        category: dict(sorted(row.items(), key=lambda kv: order.get(kv[0], len(order))))
        for category, row in sorted(table.items())
    }


def _leaderboard_data(board: Leaderboard, labels: dict[str, str]) -> LeaderboardData:
    data = cast(LeaderboardData, board.to_dict())
    for row in data["rows"]:
        row["label"] = labels.get(row["model"], row["model"])
    data["labels"] = [labels.get(model, model) for model in data["models"]]
    data["all_ties"] = every_battle_tied(board)  # then the intervals say nothing, and the note says so
    data["note"] = ALL_TIES_NOTE if data["all_ties"] else None
    return data


def hosts_of(items: Iterable[BenchItem]) -> list[str]:
    """The machines that produced the run's answers (rows from before 0019 name none)."""
    return sorted({item.host for item in items if item.host and item.status in ("done", "error")})


def performance_rows(instances: list[InstanceData], items: list[BenchItem]) -> list[PerformanceData]:
    """Speed per instance; when the answers came from several hosts, per instance and host, each
    row labelled with its host: speeds of different machines are never mixed in one figure."""
    several = len(hosts_of(items)) > 1
    rows: list[PerformanceData] = []
    for instance in instances:
        mine = [item for item in items if item.instance_id == instance["instance_id"]]
        if not several:
            hosts = {item.host for item in mine if item.host and item.status == "done"}
            rows.append(_performance(instance, mine, host=min(hosts) if len(hosts) == 1 else None))
            continue
        seen = sorted({item.host or "" for item in mine if item.status in ("done", "error")}) or [""]
        for host in seen:
            here = [item for item in mine if (item.host or "") == host]
            label = f"{instance['label']} @ {host or 'unknown host'}"
            rows.append(_performance(instance, here, host=host or None, label=label))
    return rows


def _performance(
    instance: InstanceData, mine: list[BenchItem], *, host: str | None, label: str | None = None
) -> PerformanceData:
    done = [item for item in mine if item.status == "done"]
    return {
        "instance_id": instance["instance_id"],
        "label": label or instance["label"],
        "host": host,
        "items_done": len(done),
        "items_failed": sum(1 for item in mine if item.status == "error"),
        "tokens": sum(item.tokens or 0 for item in done),
        "tokens_per_sec": _stats(item.tokens_per_sec for item in done),
        "ttft_s": _stats(item.ttft_s for item in done),
        "duration_s": _stats(item.duration_s for item in done),
    }


def _stats(values: Iterable[float | None]) -> StatsData:
    present = [value for value in values if value is not None and math.isfinite(value)]
    if not present:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {
        "n": len(present),
        "mean": round(statistics.fmean(present), 4),
        "median": round(statistics.median(present), 4),
        "min": round(min(present), 4),
        "max": round(max(present), 4),
    }


def _item_data(item: BenchItem) -> ItemData:
    return {
        "prompt_id": item.prompt_id,
        "category": item.category,
        "turns": item.turns,
        "reference": item.reference,
        "instance_id": item.instance_id,
        "model": item.model,
        "repeat": item.repeat,
        "seed": item.seed,
        "status": item.status,
        "attempts": item.attempts,
        "answers": item.answers,
        "error": item.error,
        "prompt_tokens": item.prompt_tokens,
        "tokens": item.tokens,
        "ttft_s": item.ttft_s,
        "duration_s": item.duration_s,
        "tokens_per_sec": item.tokens_per_sec,
        "host": item.host,
        "engine": item.engine,
        "worker": item.worker,
        "grade": item.grade,
        "started_at": _iso(item.started_at),
        "finished_at": _iso(item.finished_at),
    }


def _judgment_data(judgment: BenchJudgment) -> JudgmentData:
    return {
        "prompt_id": judgment.prompt_id,
        "category": judgment.category,
        "repeat": judgment.repeat,
        "instance_a": judgment.instance_a,
        "instance_b": judgment.instance_b,
        "status": judgment.status,
        "outcome": judgment.outcome,
        "detail": judgment.detail,
        "error": judgment.error,
        "host": judgment.host,
        "engine": judgment.engine,
    }


def _what(row: BenchItem | BenchJudgment) -> str:
    if isinstance(row, BenchItem):
        return f"answer of {row.instance_id} (repeat {row.repeat + 1})"
    return f"judgment {row.instance_a} vs {row.instance_b} (repeat {row.repeat + 1})"


def _count(statuses: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None
