"""Benchmark reports: the numbers, the charts, and an HTML page that loads nothing from outside."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import pytest

from arena.evaluation.bench.plan import instance_record
from arena.evaluation.bench.report.charts import nice_ticks
from arena.evaluation.bench.report.data import BenchReport, report_from_rows
from arena.evaluation.bench.report.render import charts, render_html, render_items_csv, write_report
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun

STRONG = ModelInstance(model="ollama:strong")
MIDDLE = ModelInstance(model="ollama:middle", temperature=0.3)
WEAK = ModelInstance(model="ollama:weak", seed=9)
INSTANCES = [STRONG, MIDDLE, WEAK]
SPEED = {STRONG.instance_id: 40.0, MIDDLE.instance_id: 20.0, WEAK.instance_id: 10.0}
HOSTILE = '<script>alert("x")</script><img src="https://evil.example/x.png">'
WHEN = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def make_run() -> BenchRun:
    return BenchRun(
        id="f" * 32,
        name="nightly <check>",
        status="done",
        prompt_set_name="mt_bench_questions",
        prompt_file="mt_bench_questions.jsonl",
        prompt_set_sha256="ab" * 32,
        prompt_count=12,
        instances=[instance_record(i) for i in INSTANCES],
        judge={
            **instance_record(ModelInstance(model="ollama:judge", temperature=0.01, seed=42)),
            "mode": "pairs",
            "baseline": None,
        },
        system=None,
        repeats=1,
        concurrency=2,
        seed=1234,
        environment=[
            {
                "started_at": WHEN.isoformat(),
                "arena": "0.1.0",
                "python": "3.11.7",
                "platform": "Linux",
                "engines": [
                    {"engine": "ollama", "endpoint": "http://127.0.0.1:11434", "reachable": True, "version": "0.6.5"},
                    {"engine": "local", "endpoint": "in-process", "reachable": True, "version": "0.3.9"},
                ],
            }
        ],
        created_at=WHEN,
        started_at=WHEN,
        finished_at=WHEN,
        worker=None,
        heartbeat_at=None,
        cancel_requested=False,
    )


def make_rows() -> tuple[list[BenchItem], list[BenchJudgment]]:
    """12 prompts in two categories: strong beats middle beats weak, except one upset in 'code'."""
    items, judgments = [], []
    for number in range(12):
        prompt_id, category = f"q{number}", ("code" if number % 2 else "writing")
        for instance in INSTANCES:
            items.append(
                BenchItem(
                    prompt_id=prompt_id,
                    category=category,
                    turns=[f"Question {number}?"],
                    reference=None,
                    instance_id=instance.instance_id,
                    model=instance.model,
                    repeat=0,
                    seed=77,
                    status="done",
                    attempts=1,
                    answers=[HOSTILE if instance is WEAK else f"answer {number}"],
                    tokens=100,
                    ttft_s=0.1 * (1 + INSTANCES.index(instance)),
                    duration_s=2.0,
                    tokens_per_sec=SPEED[instance.instance_id] + number % 3,
                )
            )
        for a, b in combinations(INSTANCES, 2):
            upset = number == 1 and a is STRONG and b is MIDDLE
            judgments.append(
                BenchJudgment(
                    prompt_id=prompt_id,
                    category=category,
                    repeat=0,
                    instance_a=a.instance_id,
                    instance_b=b.instance_id,
                    status="done",
                    attempts=1,
                    outcome="b" if upset else "a",
                    detail={"judge_model": "ollama:judge", "consistent": True},
                )
            )
    items[0].status, items[0].answers, items[0].error = "error", None, "the engine is not running"
    return items, judgments


@pytest.fixture
def report() -> BenchReport:
    items, judgments = make_rows()
    return report_from_rows(run=make_run(), items=items, judgments=judgments)


def test_ratings_order_the_instances_by_what_the_judge_decided(report: BenchReport) -> None:
    board = report.data["leaderboard"]
    assert [row["model"] for row in board["rows"]] == [i.instance_id for i in INSTANCES]
    strong, middle, weak = board["rows"]
    assert strong["rating"] > middle["rating"] > weak["rating"]
    assert all(row["ci_low"] <= row["rating"] <= row["ci_high"] for row in board["rows"])
    assert (strong["wins"], strong["losses"], weak["wins"]) == (23, 1, 0)
    assert board["win_rate"][0][1] == pytest.approx(11 / 12)
    assert board["total_battles"] == 36 and board["seed"] == 1234


def test_wins_per_category_and_speed_per_instance(report: BenchReport) -> None:
    code, writing = report.data["categories"]["code"], report.data["categories"]["writing"]
    assert code[STRONG.instance_id] == {"wins": 11, "losses": 1, "ties": 0, "win_rate": pytest.approx(11 / 12)}
    assert writing[STRONG.instance_id]["win_rate"] == 1.0 and writing[WEAK.instance_id]["win_rate"] == 0.0
    strong, middle, weak = report.data["performance"]
    assert (strong["items_done"], strong["items_failed"]) == (11, 1)
    assert strong["tokens_per_sec"]["median"] > middle["tokens_per_sec"]["median"] > weak["tokens_per_sec"]["median"]
    assert weak["ttft_s"]["median"] == pytest.approx(0.3)
    assert report.data["summary"] == {"items": {"done": 35, "error": 1}, "judgments": {"done": 36}, "failed": 1}
    assert report.data["failures"][0]["error"] == "the engine is not running"


def test_the_report_says_how_to_reproduce_the_run(report: BenchReport) -> None:
    data = report.data
    assert data["prompt_set"]["sha256"] == "ab" * 32
    assert data["run"]["seed"] == 1234
    command = data["reproduce"]
    assert command.startswith("arena bench run mt_bench_questions.jsonl --model ")
    for option in (
        "temperature=0.3",
        "seed=9",
        "--judge ollama:judge@",
        "--seed 1234",
        "--repeats 1",
        "--concurrency 2",
    ):
        assert option in command
    versions = {e["engine"]: e["version"] for e in data["environment"][0]["engines"]}
    assert versions == {"ollama": "0.6.5", "local": "0.3.9"}
    assert {i["instance_id"]: i["seed"] for i in data["instances"]}[WEAK.instance_id] == 9


class PageScan(HTMLParser):
    """What a browser would fetch or run from the page, and the charts it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[str] = []
        self.loads: list[str] = []
        self.scripts = 0
        self.csp = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg":
            self.svgs.append(values.get("class") or "")
        if tag == "script":
            self.scripts += 1
        if tag == "meta" and values.get("http-equiv") == "Content-Security-Policy":
            self.csp = values.get("content") or ""
        for name in ("src", "href", "xlink:href", "data", "poster", "action"):
            value = (values.get(name) or "").strip()
            if value and not value.startswith(("#", "data:")):
                self.loads.append(f"{tag}[{name}]={value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_report_embeds_its_charts_and_fetches_nothing(report: BenchReport) -> None:
    page = render_html(report, charts=charts(report))
    scan = PageScan()
    scan.feed(page)

    kinds = {name for classes in scan.svgs for name in classes.split()}
    assert {"ratings", "win-rates", "tokens-per-sec", "ttft", "categories"} <= kinds
    assert "<circle" in page and "<rect" in page
    assert scan.loads == [] and scan.scripts == 0
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in scan.csp
    # A hostile answer is shown as text, never as markup.
    assert HOSTILE in "".join(scan.text)
    assert "<script>" not in page and "nightly &lt;check&gt;" in page


def test_written_report_files_agree_with_the_run(report: BenchReport, tmp_path: Path) -> None:
    written = {path.relative_to(tmp_path).as_posix() for path in write_report(report, tmp_path)}

    assert {"report.html", "report.md", "report.json", "items.csv", "judgments.csv", "charts/ratings.svg"} <= written
    rows = list(csv.DictReader(io.StringIO((tmp_path / "items.csv").read_text())))
    assert len(rows) == 36 and rows[1]["answer"] == "answer 0" and rows[0]["error"] == "the engine is not running"
    data = json.loads((tmp_path / "report.json").read_text())
    assert len(data["items"]) == 36 and len(data["judgments"]) == 36 and data["format"] == "arena-bench-report/1"
    markdown = (tmp_path / "report.md").read_text()
    assert "![ratings](charts/ratings.svg)" in markdown and "| 1 | strong |" in markdown
    assert (tmp_path / "charts" / "ratings.svg").read_text().startswith("<?xml")
    assert render_items_csv(report) == (tmp_path / "items.csv").read_text()


def test_a_run_without_a_judge_still_reports_speed() -> None:
    run = make_run()
    run.judge = None
    items, _ = make_rows()
    report = report_from_rows(run=run, items=items, judgments=[])
    assert report.data["leaderboard"] is None and report.data["categories"] == {}
    assert set(charts(report)) == {"tokens_per_sec", "ttft"}
    assert "No judged pairs (the run had no judge)" in render_html(report, charts=charts(report))


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(0, 9, [0, 2, 4, 6, 8, 10]), (940, 1063, [900, 950, 1000, 1050, 1100])]
)
def test_chart_axes_use_round_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == expected


def svg_texts(svg: str, css_class: str) -> list[tuple[str, str]]:
    """(shown text, full title) of every <text class=css_class> in a chart."""
    return re.findall(rf'<text class="{css_class}"[^>]*><title>([^<]*)</title>([^<]*)</text>', svg)


def test_heatmap_labels_tell_long_named_instances_apart() -> None:
    # Six settings of one long-named model: labels that share a long head and differ at the end,
    # which once clipped every heatmap column label to the same text.
    long_name = "ollama:a-rather-long-model-name-that-keeps-going-and-going-v2:70b-instruct-q4_K_M"
    instances = [ModelInstance(model=long_name, temperature=t) for t in (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)]
    run = make_run()
    run.instances = [instance_record(i) for i in instances]
    judgments = [
        BenchJudgment(
            prompt_id=f"q{n}", category="code" if n % 2 else "writing", repeat=0, instance_a=a.instance_id,
            instance_b=b.instance_id, status="done", attempts=1, outcome="a", detail={"judge_model": "ollama:judge"},
        )
        for n in range(2)
        for a, b in combinations(instances, 2)
    ]  # fmt: skip
    report = report_from_rows(run=run, items=[], judgments=judgments)
    labels = [i["label"] for i in report.data["instances"]]
    assert labels[0] == "a-rather-long-model-name-that-keeps-going-and-going-v2:70b-instruct-q4_K_M · temp 0.2"

    drawn = charts(report)
    win_columns = svg_texts(drawn["win_rates"], "column-label")
    assert [shown for _, shown in win_columns] == ["1", "2", "3", "4", "5", "6"]  # numbered as the rows
    win_rows = svg_texts(drawn["win_rates"], "row-label")
    assert len({shown for _, shown in win_rows}) == 6
    for (column_title, number), (row_title, row_shown) in zip(win_columns, win_rows, strict=True):
        assert row_shown.startswith(f"{number}. ") and row_title in column_title
        assert row_shown.endswith(row_title[-8:])  # the distinguishing end survives shortening
    category_columns = svg_texts(drawn["categories"], "column-label")
    assert sorted(title for title, _ in category_columns) == sorted(labels)
    assert len({shown for _, shown in category_columns}) == 6
    assert all(shown.endswith(title[-8:]) for title, shown in category_columns)


def test_the_report_leaves_out_an_engine_that_was_down_and_that_the_run_never_calls() -> None:
    run = make_run()
    down = {"engine": "openai", "endpoint": "http://127.0.0.1:9/v1", "reachable": False, "version": None}
    run.environment = [{**run.environment[0], "engines": [*run.environment[0]["engines"], down]}]
    report = report_from_rows(run=run, items=[], judgments=[], report_dir="out/nightly")
    assert [e["engine"] for e in report.data["environment"][0]["engines"]] == ["ollama", "local"]
    assert report.data["reproduce"].endswith("--report-dir out/nightly")

    used_but_down = {**down, "engine": "ollama", "endpoint": "http://127.0.0.1:11434"}
    run.environment = [{**run.environment[0], "engines": [used_but_down]}]
    down_report = report_from_rows(run=run, items=[], judgments=[])
    html = render_html(down_report, charts=charts(down_report))
    assert "ollama version unknown (http://127.0.0.1:11434, unreachable)" in html and " ? (" not in html
