"""A benchmark report as files: Markdown, JSON, CSV and one self-contained HTML page.

CSV goes through ``arena.csv_safe`` (answers and categories are untrusted text); the files are
written 0600, as they hold the run's prompts and answers.

The HTML page carries its charts as inline SVG and its style inline, and forbids itself any
other source (a Content-Security-Policy meta tag), so it shows the same offline, from a mail
attachment or from the API. Answers are escaped, never rendered as HTML.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Final

from arena import csv_safe
from arena.evaluation.bench.report.charts import bar_chart, heatmap, ratings_chart, standalone
from arena.evaluation.bench.report.html import render_html
from arena.evaluation.bench.report.pareto import pareto_sections, pareto_svgs
from arena.evaluation.bench.report.schema import BenchReport
from arena.evaluation.bench.report.text import render_markdown
from arena.storage.private_files import write_private_text

ITEM_COLUMNS: Final = (
    "prompt_id", "category", "instance_id", "model", "repeat", "seed", "status", "attempts", "prompt_tokens",
    "tokens", "ttft_s", "duration_s", "tokens_per_sec", "host", "engine", "error", "answer", "test_pass", "test_score",
)  # fmt: skip
JUDGMENT_COLUMNS: Final = (
    "prompt_id", "category", "repeat", "instance_a", "instance_b", "status", "outcome", "host", "engine", "error",
)  # fmt: skip
PASS_RATE_COLUMNS: Final = ("assertion", "instance", "instance_id", "passed", "total", "rate")
TURN_SEPARATOR: Final = "\n\n--- next turn ---\n\n"


def charts(report: BenchReport) -> dict[str, str]:
    """Chart name → inline SVG; only the charts the run has data for."""
    data = report.data
    found: dict[str, str] = {}
    board = data["leaderboard"]
    if board and board["rows"]:
        found["ratings"] = ratings_chart(board["rows"])
        found["win_rates"] = heatmap(
            rows=board["labels"],
            columns=board["labels"],
            values=board["win_rate"],
            title="Win rate of the row against the column (ties count half)",
            css_class="heatmap win-rates",
            numbered=True,
        )
    performance = [row for row in data["performance"] if row["items_done"]]
    if performance:
        labels = [row["label"] for row in performance]
        for name, key, title, unit in (
            ("tokens_per_sec", "tokens_per_sec", "Tokens per second (median; line: min to max)", "tok/s"),
            ("ttft", "ttft_s", "Time to first token (median; line: min to max)", "s"),
        ):
            stats = [row[key] for row in performance]
            if any(s["median"] is not None for s in stats):
                found[name] = bar_chart(
                    labels=labels,
                    values=[s["median"] for s in stats],
                    ranges=[(s["min"], s["max"]) for s in stats],
                    title=title,
                    unit=unit,
                    css_class=f"bars {name.replace('_', '-')}",
                )
    categories = data["categories"]
    if categories:
        instances = [i["instance_id"] for i in data["instances"]]
        found["categories"] = heatmap(
            rows=list(categories),
            columns=[report.labels[i] for i in instances],
            values=[[categories[c].get(i, {}).get("win_rate") for i in instances] for c in categories],
            title="Win rate per category (judged pairs won, ties count half)",
            css_class="heatmap categories",
        )
    found.update(pareto_svgs(pareto_sections(report)))  # rating against speed and size, per category
    return found


def render_json(report: BenchReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str)


def render_items_csv(report: BenchReport) -> str:
    buffer = io.StringIO()
    writer = csv_safe.DictWriter(buffer, ITEM_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in report.items:
        grade = item.get("grade") or {}
        writer.writerow(
            {
                **item,
                "answer": TURN_SEPARATOR.join(item["answers"] or []),
                "test_pass": grade.get("pass", ""),
                "test_score": grade.get("score", ""),
            }
        )
    return buffer.getvalue()


def render_judgments_csv(report: BenchReport) -> str:
    buffer = io.StringIO()
    writer = csv_safe.DictWriter(buffer, JUDGMENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.judgments)
    return buffer.getvalue()


def render_pass_rates_csv(report: BenchReport) -> str:
    """One row per instance (assertion "(all tests)"), then per assertion and instance; an
    instance is named by its label, as in report.md, and by its id."""
    rates = report.data.get("pass_rates")
    buffer = io.StringIO()
    writer = csv_safe.DictWriter(buffer, PASS_RATE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    if rates:
        named = [*({**row, "assertion": "(all tests)"} for row in rates["instances"]), *rates["assertions"]]
        writer.writerows({**row, "instance": report.labels.get(row["instance_id"], row["instance_id"])} for row in named)
    return buffer.getvalue()


def write_report(report: BenchReport, directory: Path) -> list[Path]:
    """report.md, report.json, report.html, items.csv, judgments.csv and charts/*.svg, each
    readable by its owner only (they hold prompts and answers)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    written: list[Path] = []
    chart_dir = directory / "charts"
    chart_files: dict[str, str] = {}
    for name, svg in charts(report).items():
        chart_dir.mkdir(mode=0o700, exist_ok=True)
        path = chart_dir / f"{name}.svg"
        write_private_text(path, standalone(svg))
        chart_files[name] = f"charts/{name}.svg"
        written.append(path)
    for filename, text in (
        ("report.md", render_markdown(report, chart_files=chart_files)),
        ("report.json", render_json(report)),
        ("report.html", render_html(report, charts=charts(report))),
        ("items.csv", render_items_csv(report)),
        ("judgments.csv", render_judgments_csv(report)),
        *((("pass_rates.csv", render_pass_rates_csv(report)),) if report.data.get("pass_rates") else ()),
    ):
        path = directory / filename
        write_private_text(path, text)
        written.append(path)
    return written
