"""The bench report's judge section: a judge that says "A" whatever the order is flagged, and a board of
nothing but ties says so instead of showing "1000 – 1000" as if it were certain."""

from __future__ import annotations

from itertools import combinations

import pytest

from arena.evaluation.bench.report.data import report_from_rows
from arena.evaluation.bench.report.render import charts, render_html, render_markdown
from arena.storage.bench_models import BenchJudgment
from tests.evaluation.test_bench_report import make_rows, make_run

pytestmark = pytest.mark.timeout(60)


def judged(verdicts: list[tuple[str, str]]) -> list[BenchJudgment]:
    """One pair of instances per verdict, cycling over the run's three instances."""
    ids = [i["instance_id"] for i in make_run().instances]
    pairs = list(combinations(ids, 2))
    rows = []
    for n, (ab, ba) in enumerate(verdicts):
        a, b = pairs[n % len(pairs)]
        outcome = {("A", "B"): "a", ("B", "A"): "b"}.get((ab, ba), "tie")
        detail = {"judge_model": "ollama:judge", "verdict_ab": ab, "verdict_ba": ba, "consistent": outcome != "tie"}
        rows.append(
            BenchJudgment(
                prompt_id=f"q{n}", category=None, repeat=0, instance_a=a, instance_b=b, status="done", attempts=1,
                outcome=outcome, detail=detail,
            )
        )  # fmt: skip
    return rows


def test_a_judge_that_always_says_a_is_flagged_and_the_all_tie_board_says_so() -> None:
    report = report_from_rows(run=make_run(), items=[], judgments=judged([("A", "A")] * 6))
    section = report.data["judges"]

    board = report.data["leaderboard"]
    assert section is not None and board is not None and board["all_ties"] is True
    (judge,) = section["judges"]
    assert (judge["pairs"], judge["consistency"], judge["first_position"], judge["always_first"]) == (6, 0, 1, 1)
    assert judge["unreliable"] is True and judge["advice"] is not None
    assert board["note"] is not None and "1000 – 1000" in board["note"]

    markdown = render_markdown(report)
    assert "## Judge" in markdown and "| ollama:judge **(unreliable)** | 6 | 0% | 100% | 100% | 0% |" in markdown
    assert "**Warning:** ollama:judge was inconsistent on 6 of 6 pairs" in markdown
    assert "**Note:** Every battle is a tie" in markdown
    assert "| no signal |" in markdown and "1000 – 1000 |" not in markdown
    html = render_html(report, charts=charts(report))
    assert 'id="judge"' in html and "ollama:judge was inconsistent on 6 of 6 pairs" in html
    assert "Every battle is a tie" in html and ">no signal</td>" in html


def test_a_consistent_judge_is_reported_without_warnings() -> None:
    # A·B twice, B·A twice, A·A once, tie·tie once: 5 of 6 consistent; 5 of 12 verdicts for the first shown.
    verdicts = [("A", "B"), ("A", "B"), ("B", "A"), ("B", "A"), ("A", "A"), ("tie", "tie")]
    report = report_from_rows(run=make_run(), items=[], judgments=judged(verdicts))
    section = report.data["judges"]

    board = report.data["leaderboard"]
    assert section is not None and board is not None and (board["all_ties"], board["note"]) == (False, None)
    (judge,) = section["judges"]
    assert judge["consistency"] == pytest.approx(5 / 6)
    assert judge["first_position"] == pytest.approx(6 / 12)  # one "A" in each of the first four, two in A·A
    assert judge["always_first"] == pytest.approx(1 / 6) and judge["tie_rate"] == pytest.approx(2 / 12)
    assert (judge["unreliable"], judge["advice"]) == (False, None)
    assert "**Warning:**" not in render_markdown(report) and "Every battle is a tie" not in render_markdown(report)


def test_rows_without_both_verdicts_give_no_judge_section() -> None:
    items, judgments = make_rows()  # verdicts recorded without each order's answer (older rows)
    report = report_from_rows(run=make_run(), items=items, judgments=judgments)
    assert report.data["judges"] is None and "## Judge" not in render_markdown(report)
