"""A report's quality-against-speed-and-memory section: for all prompts and for each category,
the instances' ratings against their tokens/s (one chart per host and engine that produced the
answers) and against the model's size on disk and resident memory (as the engines reported them
when the run's sessions started; unknown for runs from before, or engines that do not say).

The ratings of a category are a Bradley–Terry fit of that category's judged pairs alone, with
bootstrap 95% intervals: an instance is dominated only by one whose rating is not clearly lower
(``ratings.pareto``). When every judged pair is a tie the ratings cannot tell the instances
apart, and no instance is named Pareto-optimal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from arena.evaluation.bench.report.pareto_chart import pareto_svg
from arena.evaluation.bench.report.schema import BenchReport
from arena.evaluation.ratings.all_ties import every_battle_tied
from arena.evaluation.ratings.fit import Leaderboard, leaderboard
from arena.evaluation.ratings.pairs import Battle
from arena.evaluation.ratings.pareto import ModelSize, ParetoChart, Speed, pareto_charts
from arena.storage.speed_figures import engine_label

ALL_PROMPTS: Final = "all prompts"
PARETO_ROUNDS: Final = 1000  # bootstrap rounds for the intervals that decide dominance


@dataclass(frozen=True, kw_only=True)
class ParetoSection:
    category: str  # ALL_PROMPTS, or a category's name
    charts: list[ParetoChart]


def _board(report: BenchReport, category: str | None) -> Leaderboard | None:
    battles = [
        Battle(model_a=j["instance_a"], model_b=j["instance_b"], outcome=j["outcome"], source="judge")  # type: ignore[arg-type]
        for j in report.judgments
        if j.get("status") == "done" and j.get("outcome") and (category is None or j.get("category") == category)
    ]
    if not battles:
        return None
    return leaderboard(battles, rounds=PARETO_ROUNDS, seed=0)


def _speeds(report: BenchReport) -> list[Speed]:
    groups: dict[tuple[str, str | None, str | None], list[float]] = defaultdict(list)
    for item in report.items:
        rate = item.get("tokens_per_sec")  # items built by hand (or by older code) may lack a key
        if item.get("status") == "done" and rate is not None:
            # The engine's kind, as the leaderboard labels it, so one machine and engine reads alike.
            groups[(item["instance_id"], item.get("host"), engine_label(item["model"]))].append(rate)
    return [
        Speed(key=key, host=host, engine=engine, tokens_per_sec=sum(values) / len(values), answers=len(values))
        for (key, host, engine), values in groups.items()
    ]


def _sizes(report: BenchReport) -> dict[str, ModelSize]:
    """Instance id -> its model's sizes, the latest session's report of them winning."""
    by_model: dict[str, ModelSize] = {}
    for session in report.data["environment"]:
        for model, size in (session.get("models") or {}).items():
            by_model[model] = ModelSize(disk_bytes=size.get("size_bytes"), resident_bytes=size.get("resident_bytes"))
    return {i["instance_id"]: by_model.get(i["model"], ModelSize()) for i in report.data["instances"]}


def pareto_sections(report: BenchReport) -> list[ParetoSection]:
    """All prompts first, then each category with judged pairs; none without a judge."""
    labels, speeds, sizes = report.labels, _speeds(report), _sizes(report)
    categories = [c for c in report.data["prompt_set"]["categories"]]
    sections = []
    for category in [None, *categories]:
        board = _board(report, category)
        if board is not None and board.rows:
            ratings = {row.model: row.rating for row in board.rows}
            intervals = {
                row.model: (row.ci_low, row.ci_high)
                for row in board.rows
                if row.ci_low is not None and row.ci_high is not None
            }
            no_signal = every_battle_tied(board)
            charts = pareto_charts(
                ratings, labels, speeds=speeds, sizes=sizes, intervals=intervals, no_signal=no_signal
            )
            sections.append(ParetoSection(category=category or ALL_PROMPTS, charts=charts))
    return sections


def chart_name(section_index: int, chart_index: int) -> str:
    return f"pareto_{section_index}_{chart_index}"


def pareto_svgs(sections: list[ParetoSection]) -> dict[str, str]:
    """Chart name -> SVG; a size axis nobody reported is left out (its absence is said in words)."""
    return {
        chart_name(s, c): pareto_svg(chart.to_dict())
        for s, section in enumerate(sections)
        for c, chart in enumerate(section.charts)
        if chart.points or chart.axis == "tokens_per_sec"
    }


def optimal_text(chart: ParetoChart) -> str:
    unknown = f"; unknown for {', '.join(chart.unknown)}" if chart.unknown else ""
    if not chart.points:
        return f"{chart.title}: unknown for every instance"
    if chart.no_signal:
        return f"{chart.title}: every judged pair was a tie, so the ratings cannot tell these instances apart{unknown}"
    return f"{chart.title}: Pareto-optimal {', '.join(chart.optimal)}{unknown}"


def markdown_lines(sections: list[ParetoSection], chart_files: dict[str, str] | None = None) -> list[str]:
    """The Pareto-optimal instances of each section and axis; the charts as images when written."""
    if not sections:
        return []
    lines = [
        "## Quality against speed and memory",
        "",
        "Pareto-optimal: no other instance dominates it. Another dominates when its value is at least as good "
        "(more tokens/s, fewer bytes), its rating is not clearly lower, and it is clearly higher rated or "
        "strictly better on the value; ratings whose 95% intervals overlap count as equal quality.",
        "",
    ]
    for s, section in enumerate(sections):
        lines += [f"### {section.category}", ""]
        for chart in section.charts:
            lines.append(f"- {optimal_text(chart)}")
        lines.append("")
        lines += [
            f"![{chart_name(s, c)}]({chart_files[chart_name(s, c)]})"
            for c in range(len(section.charts))
            if chart_files and chart_name(s, c) in chart_files
        ]
        lines.append("")
    return lines
