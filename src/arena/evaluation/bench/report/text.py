"""A benchmark report as text: the Markdown summary, and the small formatters it shares with
the HTML page (a missing number is a dash, an interval is "low – high").
"""

from __future__ import annotations

from typing import Any

from arena.evaluation.bench.report import pareto
from arena.evaluation.bench.report.judges import markdown_lines as judge_lines
from arena.evaluation.bench.report.pass_rates import markdown_lines
from arena.evaluation.bench.report.schema import BenchReport, CategoryCell, LeaderboardRowData
from arena.storage.models import SAMPLING_FIELDS


def number_text(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def interval_text(row: LeaderboardRowData) -> str:
    if row["ci_low"] is None or row["ci_high"] is None:
        return "–"
    return f"{row['ci_low']:.0f} – {row['ci_high']:.0f}"


def win_cell_text(cell: CategoryCell | None) -> str:
    if not cell:
        return "–"
    return f"{cell['wins']}-{cell['losses']}-{cell['ties']} ({(cell['win_rate'] or 0.0) * 100:.0f}%)"


def hosts_text(hosts: list[str]) -> str:
    """Where the answers were generated: speeds are only comparable on one machine."""
    if not hosts:
        return "- Host: not recorded"
    if len(hosts) == 1:
        return f"- Host: {hosts[0]}"
    return f"- Hosts: {', '.join(hosts)} (speeds are given per host: machines differ)"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def render_markdown(report: BenchReport, *, chart_files: dict[str, str] | None = None) -> str:
    """A readable summary; ``chart_files`` (name → relative path) adds the charts as images."""
    data = report.data
    run, prompts = data["run"], data["prompt_set"]
    lines = [f"# Benchmark: {run['name']}", ""]
    lines += [
        f"- Run `{run['id']}`, status **{run['status']}**, seed {run['seed']}, {run['repeats']} repeat(s), "
        f"concurrency {run['concurrency']} per endpoint",
        f"- Prompt set **{prompts['name']}** ({prompts['prompts']} prompts), sha256 `{prompts['sha256']}`",
        f"- Items: {counts_text(data['summary']['items'])}; "
        f"judgments: {counts_text(data['summary']['judgments']) or 'none'}",
        hosts_text(data.get("hosts") or []),
        "",
    ]
    board = data["leaderboard"]
    if board:
        lines += ["## Ratings (Bradley–Terry, 95% bootstrap intervals)", ""]
        lines += _table(
            ["rank", "instance", "rating", "95% CI", "wins", "losses", "ties"],
            [
                [
                    r["rank"],
                    r["label"],
                    f"{r['rating']:.0f}",
                    "no signal" if board.get("all_ties") else interval_text(r),
                    r["wins"],
                    r["losses"],
                    r["ties"] + r["both_bad"],
                ]
                for r in board["rows"]
            ],
        )
        lines.append("")
        if board.get("note"):  # every pair a tie: the intervals are no certainty
            lines += [f"**Note:** {board['note']}", ""]
    for name in ("ratings", "win_rates"):
        if chart_files and name in chart_files:
            lines += [f"![{name}]({chart_files[name]})", ""]
    lines += ["## Speed", ""]
    lines += _table(
        ["instance", "host", "done", "failed", "tokens/s (median)", "TTFT s (median)", "duration s (median)"],
        [
            [p["label"], p.get("host") or "–", p["items_done"], p["items_failed"], number_text(p["tokens_per_sec"]["median"]),
             number_text(p["ttft_s"]["median"]), number_text(p["duration_s"]["median"])]
            for p in data["performance"]
        ],
    )  # fmt: skip
    lines.append("")
    for name in ("tokens_per_sec", "ttft"):
        if chart_files and name in chart_files:
            lines += [f"![{name}]({chart_files[name]})", ""]
    lines += pareto.markdown_lines(pareto.pareto_sections(report), chart_files)
    if data["categories"]:
        labels = report.labels
        lines += ["## Wins per category", ""]
        instances = [i["instance_id"] for i in data["instances"]]
        lines += _table(
            ["category", *[labels[i] for i in instances]],
            [
                [category, *[win_cell_text(row.get(i)) for i in instances]]
                for category, row in data["categories"].items()
            ],
        )
        lines.append("")
        if chart_files and "categories" in chart_files:
            lines += [f"![categories]({chart_files['categories']})", ""]
    lines += judge_lines(data.get("judges"))
    lines += markdown_lines(data.get("pass_rates"), report.labels)
    if data["failures"]:
        lines += ["## Failures", ""]
        lines += [f"- prompt `{f['prompt_id']}`, {f['what']}: {_cell(f['error'])}" for f in data["failures"]]
        lines.append("")
    lines += ["## Reproduce", "", "```sh", data["reproduce"], "```", ""]
    lines += _table(
        ["instance", "model", *SAMPLING_FIELDS],
        [[i["label"], i["model"], *(i[name] for name in SAMPLING_FIELDS)] for i in data["instances"]],
    )
    lines.append("")
    if data["judge"]:
        judge = data["judge"]
        against = f", baseline {judge['baseline']}" if judge.get("baseline") else ""
        lines += [f"Judge: `{judge['model']}` ({judge['mode']}{against})", ""]
    for session in data["environment"]:
        engines = ", ".join(
            f"{e['engine']} {e['version'] or '?'} ({e['endpoint']})"
            for e in session.get("engines", [])
            if e["reachable"]
        )
        lines.append(
            f"- session {session.get('started_at')}{' by ' + session['worker'] if session.get('worker') else ''}: arena {session.get('arena')}, Python {session.get('python')}, "
            f"{session.get('platform')}; engines: {engines or 'none reachable'}"
        )
    lines.append("")
    return "\n".join(lines)
