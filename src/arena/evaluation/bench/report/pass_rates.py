"""Pass rates of a run's promptfoo tests: overall, per instance, per assertion per instance.

An item whose generation failed counts as a test that did not pass (as promptfoo counts an
error); items still pending count nowhere. ``None`` when the run has no assertions at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final, TypedDict

from arena.storage.bench_models import BenchItem

VALUE_PREVIEW: Final = 60


class RateData(TypedDict):
    passed: int
    total: int  # graded answers plus failed generations
    rate: float | None


class InstanceRateData(RateData):
    instance_id: str
    errors: int  # generations that failed: no answer to grade


class AssertionRateData(RateData):
    assertion: str  # "icontains paris"
    instance_id: str


class TestRowData(TypedDict):
    """One promptfoo test (a prompt × a test case), as promptfoo's results table shows it."""

    prompt_id: str
    test: str  # the test's description
    prompt: str  # the prompt's label
    cells: dict[str, RateData]  # by instance id: its answers (one per repeat) that passed


class PassRatesData(TypedDict):
    overall: RateData
    instances: list[InstanceRateData]
    assertions: list[AssertionRateData]
    tests: list[TestRowData]


def _rate(passed: int, total: int) -> float | None:
    return round(passed / total, 4) if total else None


def assertion_label(assertion: dict[str, Any]) -> str:
    if assertion.get("metric"):
        return str(assertion["metric"])
    value = assertion.get("value")
    shown = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if assertion.get("base") == "latency":
        shown = f"≤ {assertion.get('threshold')} ms"
    shown = " ".join(str(shown).split())
    if len(shown) > VALUE_PREVIEW:
        shown = shown[: VALUE_PREVIEW - 1] + "…"
    return f"{assertion['type']} {shown}".strip()


def pass_rates(items: Iterable[BenchItem], instance_ids: list[str]) -> PassRatesData | None:
    checked = [item for item in items if item.checks and item.status in ("done", "error")]
    if not checked and not any(item.checks for item in items):
        return None
    per_instance = {i: {"passed": 0, "total": 0, "errors": 0} for i in instance_ids}
    per_assertion: dict[tuple[str, str], list[int]] = {}
    tests: dict[str, TestRowData] = {}
    for item in checked:
        counts = per_instance.setdefault(item.instance_id, {"passed": 0, "total": 0, "errors": 0})
        counts["total"] += 1
        grade = item.grade if item.status == "done" else None
        if grade is None:
            counts["errors"] += 1
        elif grade["pass"]:
            counts["passed"] += 1
        row = tests.setdefault(
            item.prompt_id,
            {"prompt_id": item.prompt_id, "test": str(item.checks.get("description") or item.prompt_id),
             "prompt": str(item.checks.get("prompt") or ""), "cells": {}},
        )  # fmt: skip
        cell = row["cells"].setdefault(item.instance_id, {"passed": 0, "total": 0, "rate": None})
        cell["passed"] += 1 if grade is not None and grade["pass"] else 0
        cell["total"] += 1
        cell["rate"] = _rate(cell["passed"], cell["total"])
        results = grade["results"] if grade else [None] * len(item.checks["assert"])
        for assertion, result in zip(item.checks["assert"], results, strict=False):
            cell = per_assertion.setdefault((assertion_label(assertion), item.instance_id), [0, 0])
            cell[0] += 1 if result and result["pass"] else 0
            cell[1] += 1
    passed = sum(c["passed"] for c in per_instance.values())
    total = sum(c["total"] for c in per_instance.values())
    order = {instance_id: position for position, instance_id in enumerate(instance_ids)}
    return {
        "overall": {"passed": passed, "total": total, "rate": _rate(passed, total)},
        "instances": [
            {"instance_id": i, **c, "rate": _rate(c["passed"], c["total"])}  # type: ignore[typeddict-item]
            for i, c in per_instance.items()
        ],
        "assertions": [
            {"assertion": label, "instance_id": i, "passed": p, "total": t, "rate": _rate(p, t)}
            for (label, i), (p, t) in sorted(per_assertion.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 0)))
        ],
        "tests": list(tests.values()),
    }


def rate_text(rate: RateData | None) -> str:
    if rate is None or rate["rate"] is None:
        return "–"
    return f"{rate['passed']}/{rate['total']} ({rate['rate'] * 100:.0f}%)"


def markdown_lines(rates: PassRatesData | None, labels: dict[str, str]) -> list[str]:
    """The Markdown section: a table per instance, then one per assertion."""
    if rates is None:
        return []

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    lines = ["## promptfoo tests", "", f"Passed overall: {rate_text(rates['overall'])}", ""]
    lines += [row(["instance", "passed", "errors"]), "|---|---|---|"]
    lines += [row([labels.get(r["instance_id"], r["instance_id"]), rate_text(r), str(r["errors"])]) for r in rates["instances"]]
    lines += ["", row(["assertion", "instance", "passed"]), "|---|---|---|"]
    lines += [
        row([r["assertion"], labels.get(r["instance_id"], r["instance_id"]), rate_text(r)]) for r in rates["assertions"]
    ]
    instance_ids = [r["instance_id"] for r in rates["instances"]]
    several_prompts = len({t["prompt"] for t in rates["tests"]}) > 1
    lines += ["", row(["test", *(["prompt"] if several_prompts else []), *(labels.get(i, i) for i in instance_ids)])]
    lines += ["|" + "---|" * (1 + several_prompts + len(instance_ids))]
    lines += [
        row([t["test"], *([t["prompt"]] if several_prompts else []), *(cell_text(t["cells"].get(i)) for i in instance_ids)])
        for t in rates["tests"]
    ]
    return [*lines, ""]


def cell_text(rate: RateData | None) -> str:
    """One test's cell: pass or fail, or how many of its repeats passed."""
    if rate is None:
        return "–"
    if rate["total"] == 1:
        return "pass" if rate["passed"] else "fail"
    return f"{rate['passed']}/{rate['total']}"
