"""The self-contained HTML page of a benchmark report, and the small formatters the text
reports share. The page embeds its style and its charts (inline SVG); its CSP meta tag
forbids loading anything else. Every value goes through Jinja2's autoescape; only the SVG
charts, which ``bench_charts`` builds with every label escaped, are marked safe.
"""

from __future__ import annotations

from typing import Any, Final

from jinja2 import Environment
from markupsafe import Markup

from arena.evaluation.bench.report.data import BenchReport

REPORT_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def number_text(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def interval_text(row: dict[str, Any]) -> str:
    if row["ci_low"] is None:
        return "–"
    return f"{row['ci_low']:.0f} – {row['ci_high']:.0f}"


def win_cell_text(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "–"
    return f"{cell['wins']}-{cell['losses']}-{cell['ties']} ({cell['win_rate'] * 100:.0f}%)"


_STYLE: Final = """
:root { color-scheme: light dark; --ink: #1d1d1f; --muted: #5f6368; --line: #d9d9de; --bg: #fff; --panel: #f6f7f9;
  --ok: #1a7f37; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --ink: #e8e8ea; --muted: #a0a4ab; --line: #3a3b40; --bg: #16171a;
  --panel: #202227; } svg.chart { background: #f6f7f9; border-radius: 6px; } }
body { font: 15px/1.5 system-ui, sans-serif; color: var(--ink); background: var(--bg); margin: 0 auto;
  max-width: 1100px; padding: 24px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.meta { color: var(--muted); margin: 0; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 16px 0; overflow-x: auto; } figcaption { color: var(--muted); font-size: 13px; }
pre, .answer { white-space: pre-wrap; word-break: break-word; background: var(--panel); padding: 8px 10px;
  border-radius: 6px; font-size: 13px; }
details { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
.status-done { color: var(--ok); } .status-error { color: var(--bad); }
"""

_TEMPLATE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Benchmark report: {{ run.name }}</title>
<style>{{ style }}</style>
</head>
<body>
<header>
<h1>Benchmark: {{ run.name }}</h1>
<p class="meta">Run <code>{{ run.id }}</code> · status <strong>{{ run.status }}</strong>
· created {{ run.created_at }}
{% if run.finished_at %} · finished {{ run.finished_at }}{% endif %} · report generated {{ data.generated_at }}</p>
<p class="meta">Prompt set <strong>{{ prompts.name }}</strong> ({{ prompts.prompts }} prompts)
· items: {{ counts(data.summary['items']) }}
{% if data.summary.judgments %} · judgments: {{ counts(data.summary.judgments) }}{% endif %}</p>
<nav><a href="#ratings">Ratings</a><a href="#speed">Speed</a><a href="#categories">Categories</a>
<a href="#reproduce">Reproduce</a><a href="#answers">Answers</a></nav>
</header>

<section id="ratings">
<h2>Ratings</h2>
{% if board %}
<table>
<thead><tr><th>Rank</th><th>Instance</th><th>Rating</th><th>95% CI</th>
<th>Wins</th><th>Losses</th><th>Ties</th><th>Both bad</th></tr></thead>
<tbody>
{% for row in board.rows %}
<tr><td class="num">{{ row.rank }}</td><td>{{ row.label }}</td><td class="num">{{ '%.0f' % row.rating }}</td>
<td class="num">{{ interval(row) }}</td><td class="num">{{ row.wins }}</td><td class="num">{{ row.losses }}</td>
<td class="num">{{ row.ties }}</td><td class="num">{{ row.both_bad }}</td></tr>
{% endfor %}
</tbody>
</table>
<figure>{{ charts.ratings }}<figcaption>Bradley–Terry ratings from {{ board.total_battles }} judged pairs;
bars are 95% bootstrap intervals ({{ board.rounds }} rounds, seed {{ board.seed }}).</figcaption></figure>
<figure>{{ charts.win_rates }}<figcaption>Share of judged pairs the row won against the column.</figcaption></figure>
{% else %}
<p>No judged pairs{% if not data.judge %} (the run had no judge){% endif %}.</p>
{% endif %}
</section>

<section id="speed">
<h2>Speed</h2>
<table>
<thead><tr><th>Instance</th><th>Done</th><th>Failed</th><th>Tokens</th><th>Tokens/s median</th><th>Tokens/s mean</th>
<th>TTFT median (s)</th><th>Duration median (s)</th></tr></thead>
<tbody>
{% for p in data.performance %}
<tr><td>{{ p.label }}</td><td class="num">{{ p.items_done }}</td><td class="num">{{ p.items_failed }}</td>
<td class="num">{{ p.tokens }}</td><td class="num">{{ number(p.tokens_per_sec.median) }}</td>
<td class="num">{{ number(p.tokens_per_sec.mean) }}</td><td class="num">{{ number(p.ttft_s.median) }}</td>
<td class="num">{{ number(p.duration_s.median) }}</td></tr>
{% endfor %}
</tbody>
</table>
{% if charts.tokens_per_sec %}<figure>{{ charts.tokens_per_sec }}<figcaption>Tokens per second: the bar is the median
item, the line runs from the slowest to the fastest.</figcaption></figure>{% endif %}
{% if charts.ttft %}<figure>{{ charts.ttft }}<figcaption>Time to first token (first turn): the bar is the median item,
the line runs from the quickest to the slowest.</figcaption></figure>{% endif %}
</section>

<section id="categories">
<h2>Wins per category</h2>
{% if data.categories %}
<figure>{{ charts.categories }}
<figcaption>Share of judged pairs each instance won in each category.</figcaption></figure>
<table>
<thead><tr><th>Category</th>{% for i in data.instances %}<th>{{ i.label }}</th>{% endfor %}</tr></thead>
<tbody>
{% for category, row in data.categories.items() %}
<tr><td>{{ category }}</td>
{% for i in data.instances %}<td class="num">{{ win_cell(row.get(i.instance_id)) }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
<p class="meta">wins-losses-ties (win rate, ties count half)</p>
{% else %}
<p>No judged pairs.</p>
{% endif %}
</section>

{% if data.failures %}
<section id="failures">
<h2>Failures</h2>
<ul>
{% for f in data.failures %}<li>prompt <code>{{ f.prompt_id }}</code>, {{ f.what }}: {{ f.error }}</li>{% endfor %}
</ul>
</section>
{% endif %}

<section id="reproduce">
<h2>Reproduce</h2>
<pre>{{ data.reproduce }}</pre>
<p>Prompt set file <code>{{ prompts.file or prompts.name }}</code>, sha256 <code>{{ prompts.sha256 }}</code>.
Run seed {{ run.seed }}; an instance with seed 0 uses a seed derived from the run seed and the repeat.</p>
<table>
<thead><tr><th>Instance</th><th>Model</th><th>temperature</th><th>top_p</th><th>top_k</th><th>repeat_penalty</th>
<th>num_predict</th><th>seed</th></tr></thead>
<tbody>
{% for i in data.instances %}
<tr><td>{{ i.label }}</td><td><code>{{ i.model }}</code></td><td class="num">{{ i.temperature }}</td>
<td class="num">{{ i.top_p }}</td><td class="num">{{ i.top_k }}</td><td class="num">{{ i.repeat_penalty }}</td>
<td class="num">{{ i.num_predict }}</td><td class="num">{{ i.seed }}</td></tr>
{% endfor %}
</tbody>
</table>
{% if data.judge %}
<p>Judge <code>{{ data.judge.model }}</code>, {{ data.judge.mode }}{% if data.judge.baseline %} against
<code>{{ data.judge.baseline }}</code>{% endif %}; temperature {{ data.judge.temperature }},
top_p {{ data.judge.top_p }},
top_k {{ data.judge.top_k }}, repeat_penalty {{ data.judge.repeat_penalty }}, num_predict {{ data.judge.num_predict }},
seed {{ data.judge.seed }}. Each pair is judged in both orders; a verdict that flips with the order is a tie.</p>
{% endif %}
{% if run.system %}<p>System prompt:</p><pre>{{ run.system }}</pre>{% endif %}
<table>
<thead><tr><th>Session started</th><th>Arena</th><th>Python</th><th>Platform</th><th>Engines</th></tr></thead>
<tbody>
{% for s in data.environment %}
<tr><td>{{ s.started_at }}</td><td>{{ s.arena }}</td><td>{{ s.python }}</td><td>{{ s.platform }}</td>
<td>{% for e in s.engines %}{{ e.engine }} {{ e.version or '?' }} ({{ e.endpoint }}
{%- if not e.reachable %}, unreachable{% endif %})<br>{% endfor %}</td></tr>
{% endfor %}
</tbody>
</table>
</section>

<section id="answers">
<h2>Answers</h2>
{% for prompt in prompt_groups %}
<details>
<summary>{{ prompt.id }}{% if prompt.category %} · {{ prompt.category }}{% endif %} — {{ prompt.preview }}</summary>
{% for turn in prompt.turns %}
<p><strong>User{% if prompt.turns|length > 1 %}, turn {{ loop.index }}{% endif %}:</strong></p>
<div class="answer">{{ turn }}</div>{% endfor %}
{% for item in prompt['items'] %}
<p><strong>{{ labels[item.instance_id] }}</strong>, repeat {{ item.repeat + 1 }}, seed {{ item.seed }} ·
<span class="status-{{ item.status }}">{{ item.status }}</span>
{%- if item.tokens_per_sec %} · {{ item.tokens_per_sec }} tok/s{% endif %}
{% if item.error %} · {{ item.error }}{% endif %}</p>
{% for answer in item.answers or [] %}<div class="answer">{{ answer }}</div>{% endfor %}
{% endfor %}
{% for j in prompt.judgments %}
<p>Judge, repeat {{ j.repeat + 1 }}: {{ labels[j.instance_a] }} vs {{ labels[j.instance_b] }} →
<strong>{{ j.outcome or j.status }}</strong>{% if j.error %} ({{ j.error }}){% endif %}</p>
{% endfor %}
</details>
{% endfor %}
</section>
</body>
</html>
"""

_environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_template = _environment.from_string(_TEMPLATE)


def _prompt_groups(report: BenchReport) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for item in report.items:
        group = groups.setdefault(
            item["prompt_id"],
            {
                "id": item["prompt_id"],
                "category": item["category"],
                "turns": item["turns"],
                "preview": " ".join(item["turns"][0].split())[:80],
                "items": [],
                "judgments": [],
            },
        )
        group["items"].append(item)
    for judgment in report.judgments:
        if judgment["prompt_id"] in groups:
            groups[judgment["prompt_id"]]["judgments"].append(judgment)
    return list(groups.values())


def render_html(report: BenchReport, *, charts: dict[str, str]) -> str:
    """One page with everything inline: open it anywhere, nothing is fetched."""
    data = report.data
    return _template.render(
        csp=REPORT_CSP,
        style=Markup(_STYLE),
        data=data,
        run=data["run"],
        prompts=data["prompt_set"],
        board=data["leaderboard"],
        labels=report.labels,
        charts={name: Markup(svg) for name, svg in charts.items()},
        prompt_groups=_prompt_groups(report),
        counts=counts_text,
        number=number_text,
        interval=interval_text,
        win_cell=win_cell_text,
    )
