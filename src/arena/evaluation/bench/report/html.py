"""The self-contained HTML page of a benchmark report, from ``templates/report.html.j2``.

The page embeds its style and its charts (inline SVG); its CSP meta tag forbids loading
anything else. Every value goes through Jinja2's autoescape; only the SVG charts, which the
``charts`` module builds with every label escaped, are marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from arena.evaluation.bench.report.pareto import chart_name, optimal_text, pareto_sections
from arena.evaluation.bench.report.pass_rates import cell_text, rate_text
from arena.evaluation.bench.report.schema import BenchReport, ItemData, JudgmentData
from arena.evaluation.bench.report.text import counts_text, hosts_text, interval_text, number_text, win_cell_text

REPORT_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
TEMPLATE: Final = "report.html.j2"

# autoescape=True rather than select_autoescape: the template's name ends in .j2, not .html.
_environment = Environment(
    loader=PackageLoader("arena.evaluation.bench.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(kw_only=True)
class PromptGroup:
    """One prompt on the page: what was asked, every answer to it, and the judge's verdicts."""

    id: str
    category: str | None
    turns: list[str]
    preview: str  # the first turn on one line, cut short for the summary line
    items: list[ItemData] = field(default_factory=list)
    judgments: list[JudgmentData] = field(default_factory=list)


def prompt_groups(report: BenchReport) -> list[PromptGroup]:
    """The report's items and judgments gathered per prompt, in the items' order."""
    groups: dict[str, PromptGroup] = {}
    for item in report.items:
        group = groups.setdefault(
            item["prompt_id"],
            PromptGroup(
                id=item["prompt_id"],
                category=item["category"],
                turns=item["turns"],
                preview=" ".join(item["turns"][0].split())[:80],
            ),
        )
        group.items.append(item)
    for judgment in report.judgments:
        if judgment["prompt_id"] in groups:
            groups[judgment["prompt_id"]].judgments.append(judgment)
    return list(groups.values())


def render_html(report: BenchReport, *, charts: dict[str, str]) -> str:
    """One page with everything inline: open it anywhere, nothing is fetched."""
    data = report.data
    return _environment.get_template(TEMPLATE).render(
        csp=REPORT_CSP,
        data=data,
        run=data["run"],
        prompts=data["prompt_set"],
        board=data["leaderboard"],
        labels=report.labels,
        charts={name: Markup(svg) for name, svg in charts.items()},
        prompt_groups=prompt_groups(report),
        counts=counts_text,
        hosts=hosts_text(data.get("hosts") or []).removeprefix("- "),
        number=number_text,
        interval=interval_text,
        win_cell=win_cell_text,
        rate=rate_text,
        cell=cell_text,
        pareto=pareto_sections(report),
        pareto_chart=chart_name,
        pareto_text=optimal_text,
    )
