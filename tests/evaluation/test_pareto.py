"""Quality against speed and memory: the frontier on hand-made points, speed charts kept per host
and engine, unknown sizes said as unknown, and the section in every form of the bench report."""

from __future__ import annotations

import pytest

from arena.engines.ollama import OllamaEngine
from arena.engines.router import Router
from arena.evaluation.bench.plan import instance_record
from arena.evaluation.bench.report.data import report_from_rows
from arena.evaluation.bench.report.render import charts, render_html
from arena.evaluation.bench.report.text import render_markdown
from arena.evaluation.bench.steps import describe_environment
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.ratings.pareto import ModelSize, Speed, pareto_charts, pareto_optimal
from tests.evaluation.test_bench_report import MIDDLE, STRONG, WEAK, make_rows, make_run
from tests.support.doubles.ollama import OllamaDouble

pytestmark = pytest.mark.timeout(60)


def test_the_frontier_of_hand_made_points_more_is_better() -> None:
    # (rating, tokens/s): A best and slowest, B a bit worse and much faster, C dominated by B,
    # D fastest and worst, E equal to B on both (neither beats the other: both stay).
    points = [(1100, 10.0), (1050, 40.0), (1000, 30.0), (900, 80.0), (1050, 40.0)]
    assert pareto_optimal(points, more_is_better=True) == [True, True, False, True, True]


def test_the_frontier_when_less_is_better() -> None:
    # (rating, bytes): the smallest model is optimal whatever its rating; a bigger, worse one is not.
    points = [(1100, 8e9), (1000, 1e9), (1050, 9e9), (1080, 4e9)]
    assert pareto_optimal(points, more_is_better=False) == [True, True, False, True]


def test_a_higher_rating_inside_overlapping_intervals_does_not_dominate() -> None:
    # Outside pass 15: A 1010 [950, 1070] at 10 tok/s was marked dominated by nothing, and B 1000
    # [940, 1060] at 9 tok/s dominated by... now the other way: equal quality, so the faster A
    # dominates B; C 1200 [1150, 1250] is clearly better, so it stays although slowest; D 990
    # [960, 1020] at 30 tok/s has the lower point rating but is fastest and not clearly worse
    # than A: A is dominated by it, though A's point rating is higher.
    points = [(1010.0, 10.0), (1000.0, 9.0), (1200.0, 5.0), (990.0, 30.0)]
    intervals = [(950.0, 1070.0), (940.0, 1060.0), (1150.0, 1250.0), (960.0, 1020.0)]
    assert pareto_optimal(points, more_is_better=True, intervals=intervals) == [False, False, True, True]
    # Without intervals the point ratings decide: A's 1010 keeps it on the frontier.
    assert pareto_optimal(points, more_is_better=True) == [True, False, True, True]
    # A clearly better rating dominates a slower or equally fast one, not a faster one.
    clear = [(1200.0, 10.0), (1000.0, 10.0), (1000.0, 20.0)]
    spans = [(1150.0, 1250.0), (950.0, 1050.0), (950.0, 1050.0)]
    assert pareto_optimal(clear, more_is_better=True, intervals=spans) == [True, False, True]


def test_a_board_of_ties_names_no_frontier_in_the_report() -> None:
    items, judgments = make_rows()
    for judgment in judgments:
        judgment.outcome = "tie"  # the embedded judge's "A" in both orders: every verdict a tie
    report = report_from_rows(run=make_run(), items=items, judgments=judgments)

    markdown = render_markdown(report)

    assert "Pareto-optimal " + report.labels[STRONG.instance_id] not in markdown
    assert "every judged pair was a tie, so the ratings cannot tell these instances apart" in markdown
    ratings = {"a": 1000.0, "b": 1000.0}
    speeds = [Speed(key=k, host="h", engine="local", tokens_per_sec=v, answers=1) for k, v in (("a", 5), ("b", 9))]
    chart = pareto_charts(ratings, {"a": "A", "b": "B"}, speeds=speeds, sizes={}, no_signal=True)[0]
    assert chart.no_signal and chart.optimal == [] and not any(p.optimal for p in chart.points)


def test_speeds_are_charted_per_host_and_engine_and_unknown_sizes_are_named() -> None:
    ratings = {"a": 1100.0, "b": 1000.0, "c": 900.0}
    names = {"a": "A", "b": "B", "c": "C"}
    speeds = [
        Speed(key="a", host="gpu", engine="ollama", tokens_per_sec=50.0, answers=2),
        Speed(key="a", host="gpu", engine="ollama", tokens_per_sec=20.0, answers=1),  # pooled: mean 40
        Speed(key="b", host="gpu", engine="ollama", tokens_per_sec=60.0, answers=3),
        Speed(key="b", host="laptop", engine="local", tokens_per_sec=5.0, answers=3),
        Speed(key="c", host="laptop", engine="local", tokens_per_sec=9.0, answers=3),
    ]
    sizes = {
        "a": ModelSize(disk_bytes=4_000_000_000),
        "b": ModelSize(disk_bytes=1_000_000_000, resident_bytes=2_000_000_000),
    }

    gpu, laptop, disk, resident = pareto_charts(ratings, names, speeds=speeds, sizes=sizes)

    assert (gpu.host, laptop.host) == ("gpu", "laptop")
    assert {p.key: p.value for p in gpu.points} == {"a": pytest.approx(40.0), "b": 60.0}
    assert gpu.optimal == ["A", "B"] and gpu.unknown == ["C"]
    assert laptop.optimal == ["B", "C"]  # never compared with the GPU's speeds
    assert disk.optimal == ["A", "B"] and disk.unknown == ["C"]
    assert resident.optimal == ["B"] and resident.unknown == ["A", "C"]


def test_the_report_charts_rating_against_speed_per_category_and_lists_the_frontier() -> None:
    items, judgments = make_rows()  # strong 40 tok/s > middle 20 > weak 10, and strong rates highest
    run = make_run()
    run.environment[0]["models"] = {STRONG.model: {"size_bytes": 8_000_000_000, "resident_bytes": None}}
    report = report_from_rows(run=run, items=items, judgments=judgments)

    svgs = charts(report)
    markdown = render_markdown(report)
    html = render_html(report, charts=svgs)

    pareto = {name: svg for name, svg in svgs.items() if name.startswith("pareto_")}
    # All prompts, code and writing: a speed chart and a disk chart each; no resident chart (nobody said).
    assert len(pareto) == 6
    assert all('class="chart pareto' in svg for svg in pareto.values())
    labels = report.labels
    strong = labels[STRONG.instance_id]
    assert f"Rating against tokens/s on unknown host · ollama: Pareto-optimal {strong}\n" in markdown
    unknown = ", ".join(sorted(labels[i.instance_id] for i in (MIDDLE, WEAK)))
    assert f"Rating against model size on disk: Pareto-optimal {strong}; unknown for {unknown}" in markdown
    assert "Rating against resident memory: unknown for every instance" in markdown
    assert '<section id="pareto">' in html and "<h3>code</h3>" in html and "<h3>writing</h3>" in html


@pytest.mark.anyio
async def test_a_run_session_records_the_sizes_ollama_lists(double: OllamaDouble) -> None:
    router = Router(engines=[OllamaEngine(base_url=double.url)])
    try:
        environment = await describe_environment(router)
    finally:
        await router.aclose()

    assert environment["models"]["ollama:qwen2.5:0.5b"] == {"size_bytes": 397_821_319, "resident_bytes": None}
    run = make_run()
    run.instances = [instance_record(ModelInstance(model="ollama:qwen2.5:0.5b")), *run.instances]
    run.environment = [environment]
    data = report_from_rows(run=run, items=[], judgments=[]).data
    assert list(data["environment"][0]["models"]) == ["ollama:qwen2.5:0.5b"]  # the run's models only
