"""Which machine produced each answer, in every form of a bench report: speeds from different
hosts are labelled per host, never averaged together."""

from __future__ import annotations

import csv
import io
import json

from arena.evaluation.bench.plan import instance_record
from arena.evaluation.bench.report.data import report_from_rows
from arena.evaluation.bench.report.render import charts, render_html, render_items_csv, render_json
from arena.evaluation.bench.report.text import render_markdown
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage.bench_models import BenchItem, BenchRun
from tests.evaluation.test_bench_report import WHEN, make_run

FAST, SLOW = ModelInstance(model="ollama:strong"), ModelInstance(model="ollama:middle", temperature=0.3)
GPU, LAPTOP = "gpu-box", "laptop"
ENGINES = {GPU: "ollama:http://gpu-box:11434", LAPTOP: "ollama:http://127.0.0.1:11434"}


def item(instance: ModelInstance, number: int, *, host: str | None, rate: float) -> BenchItem:
    return BenchItem(
        prompt_id=f"q{number}",
        category=None,
        turns=[f"Question {number}?"],
        reference=None,
        instance_id=instance.instance_id,
        model=instance.model,
        repeat=0,
        seed=7,
        status="done",
        attempts=1,
        answers=["an answer"],
        tokens=100,
        ttft_s=0.2,
        duration_s=2.0,
        tokens_per_sec=rate,
        host=host,
        engine=ENGINES.get(host or ""),
        worker=f"{host}:123:abc" if host else None,
        started_at=WHEN,
        finished_at=WHEN,
    )


def two_host_rows() -> list[BenchItem]:
    """Each instance answered half its prompts on a fast GPU box (80 tok/s), half on a laptop (10)."""
    return [
        item(instance, number, host=GPU if number % 2 else LAPTOP, rate=80.0 if number % 2 else 10.0)
        for instance in (FAST, SLOW)
        for number in range(4)
    ]


def run_of(*instances: ModelInstance) -> BenchRun:
    run = make_run()
    run.instances, run.judge = [instance_record(i) for i in instances], None
    return run


def test_speeds_from_two_hosts_are_reported_per_host_and_labelled() -> None:
    report = report_from_rows(run=run_of(FAST, SLOW), items=two_host_rows(), judgments=[])

    data = report.data
    assert data["hosts"] == [GPU, LAPTOP]
    rows = {(row["instance_id"], row["host"]): row for row in data["performance"]}
    assert set(rows) == {(i.instance_id, h) for i in (FAST, SLOW) for h in (GPU, LAPTOP)}
    for instance in (FAST, SLOW):  # never the 45 tok/s mean of two machines
        assert rows[(instance.instance_id, GPU)]["tokens_per_sec"]["median"] == 80.0
        assert rows[(instance.instance_id, LAPTOP)]["tokens_per_sec"]["median"] == 10.0
        assert rows[(instance.instance_id, GPU)]["label"].endswith(f"@ {GPU}")
    # The chart's bars carry the host in their labels too.
    assert f"@ {LAPTOP}" in charts(report)["tokens_per_sec"]

    markdown = render_markdown(report)
    assert f"- Hosts: {GPU}, {LAPTOP} (speeds are given per host" in markdown
    speed_rows = [line for line in markdown.splitlines() if line.startswith("| strong @")]
    assert len(speed_rows) == 2 and f"| {GPU} |" in speed_rows[0] + speed_rows[1]

    html = render_html(report, charts=charts(report))
    assert f"Hosts: {GPU}, {LAPTOP}" in html and "<th>Host</th>" in html
    assert f"on {GPU} ({ENGINES[GPU]})" in html  # each answer says where it ran

    exported = json.loads(render_json(report))
    assert {(i["host"], i["engine"]) for i in exported["items"]} == {(h, ENGINES[h]) for h in (GPU, LAPTOP)}
    assert all(i["worker"] for i in exported["items"])
    csv_rows = list(csv.DictReader(io.StringIO(render_items_csv(report))))
    assert {(row["host"], row["engine"]) for row in csv_rows} == {(h, ENGINES[h]) for h in (GPU, LAPTOP)}


def test_one_host_keeps_one_row_per_instance_and_names_the_host() -> None:
    rows = [item(instance, number, host=GPU, rate=50.0) for instance in (FAST, SLOW) for number in range(3)]
    report = report_from_rows(run=run_of(FAST, SLOW), items=rows, judgments=[])

    assert [(row["instance_id"], row["host"]) for row in report.data["performance"]] == [
        (FAST.instance_id, GPU),
        (SLOW.instance_id, GPU),
    ]
    assert "@" not in report.data["performance"][0]["label"]
    assert f"- Host: {GPU}" in render_markdown(report)


def test_answers_from_before_hosts_were_recorded_say_so() -> None:
    rows = [item(FAST, number, host=None, rate=50.0) for number in range(2)]
    report = report_from_rows(run=run_of(FAST), items=rows, judgments=[])

    assert report.data["hosts"] == [] and report.data["performance"][0]["host"] is None
    assert "- Host: not recorded" in render_markdown(report)
