"""The bench report's HTML template ships in the wheel: build it, install it apart, render a page.

The page is a template file, not a string in the code, so a wheel without the file would
import fine and fail only when someone asks for the report. This builds the wheel the way a
user's pip would, installs it into a fresh virtualenv (no pip, no source tree on the path;
the third-party packages come from the running environment through a .pth file), and
renders a hand-made report there.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# Building needs the build backend (setuptools) from an index; say so rather than fail when none answers.
NO_BACKEND = ("Could not find a version that satisfies the requirement setuptools", "No matching distribution found")

pytestmark = pytest.mark.timeout(90)  # about 15 s: a wheel build, a venv, one render

# A run of two instances and one prompt, written by hand in the JSON report's shape.
FAST = "a" * 32
SLOW = "b" * 32
INSTANCE = {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "repeat_penalty": 1.1, "num_predict": -1, "seed": 0}
STATS = {"n": 1, "mean": 12.5, "median": 12.5, "min": 12.5, "max": 12.5}
ROW = {"ci_low": None, "ci_high": None, "battles": 1, "ties": 0, "both_bad": 0}
REPORT: dict[str, Any] = {
    "data": {
        "format": "arena-bench-report/1",
        "generated_at": "2026-01-02T03:04:05+00:00",
        "run": {
            "id": "c" * 32,
            "name": "packaged <smoke>",
            "status": "done",
            "created_at": "2026-01-02T03:00:00+00:00",
            "started_at": "2026-01-02T03:00:01+00:00",
            "finished_at": "2026-01-02T03:04:00+00:00",
            "seed": 7,
            "repeats": 1,
            "concurrency": 1,
            "system": None,
        },
        "prompt_set": {"name": "smoke", "file": "smoke.txt", "sha256": "d" * 64, "prompts": 1, "categories": []},
        "instances": [
            {"instance_id": FAST, "model": "ollama:fast", **INSTANCE, "label": "ollama:fast"},
            {"instance_id": SLOW, "model": "ollama:slow", **INSTANCE, "label": "ollama:slow"},
        ],
        "judge": None,
        "environment": [],
        "reproduce": "arena bench run smoke.txt --model ollama:fast --model ollama:slow",
        "summary": {"items": {"done": 2}, "judgments": {"done": 1}, "failed": 0},
        "performance": [
            {
                "instance_id": i,
                "label": f"ollama:{name}",
                "items_done": 1,
                "items_failed": 0,
                "tokens": 10,
                "tokens_per_sec": STATS,
                "ttft_s": STATS,
                "duration_s": STATS,
            }
            for i, name in ((FAST, "fast"), (SLOW, "slow"))
        ],
        "leaderboard": {
            "rows": [
                {"model": FAST, "rating": 1034.6, "rank": 1, "wins": 1, "losses": 0, "label": "ollama:fast", **ROW},
                {"model": SLOW, "rating": 965.4, "rank": 2, "wins": 0, "losses": 1, "label": "ollama:slow", **ROW},
            ],
            "models": [FAST, SLOW],
            "win_rate": [[None, 1.0], [0.0, None]],
            "counts": [[0, 1], [1, 0]],
            "total_battles": 1,
            "rounds": 0,
            "seed": 7,
            "labels": ["ollama:fast", "ollama:slow"],
        },
        "categories": {},
        "failures": [],
    },
    "items": [
        {
            "prompt_id": "p1",
            "category": None,
            "turns": ["Name a colour."],
            "reference": None,
            "instance_id": i,
            "model": f"ollama:{name}",
            "repeat": 0,
            "seed": 7,
            "status": "done",
            "attempts": 1,
            "answers": [f"{name} says <b>teal</b>"],
            "error": None,
            "prompt_tokens": 5,
            "tokens": 10,
            "ttft_s": 0.1,
            "duration_s": 0.8,
            "tokens_per_sec": 12.5,
            "started_at": None,
            "finished_at": None,
        }
        for i, name in ((FAST, "fast"), (SLOW, "slow"))
    ],
    "judgments": [
        {
            "prompt_id": "p1",
            "category": None,
            "repeat": 0,
            "instance_a": FAST,
            "instance_b": SLOW,
            "status": "done",
            "outcome": "a",
            "detail": None,
            "error": None,
        }
    ],
}

RENDER = """
import json, sys
import arena
from arena.evaluation.bench.report.render import charts, render_html
from arena.evaluation.bench.report.schema import BenchReport

report = BenchReport(**json.load(open(sys.argv[1], encoding="utf-8")))
print(json.dumps({"module": arena.__file__, "page": render_html(report, charts=charts(report))}))
"""


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=75, check=False)


def _build_wheel(tmp_path: Path) -> Path:
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "wheel", "--no-deps"]
    built = _run([*pip, "--quiet", "-w", str(dist), str(source)], cwd=tmp_path)
    if built.returncode and any(reason in built.stdout + built.stderr for reason in NO_BACKEND):
        pytest.skip("no package index offers setuptools to build the wheel with")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("local_llm_arena-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    """A venv holding only the wheel; its dependencies are read from the running environment."""
    home = tmp_path / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(home)], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    where = _run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path)
    site = Path(where.stdout.strip())
    with zipfile.ZipFile(wheel) as archive:  # a pure wheel is laid out as site-packages
        archive.extractall(site)
    # A path in a .pth file is appended after site-packages, so the wheel's arena comes first;
    # .pth files inside the appended folder (an editable arena, say) are not run.
    (site / "shared-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python, site


def test_the_installed_wheel_renders_the_html_report_from_its_template(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        assert "arena/evaluation/bench/report/templates/report.html.j2" in archive.namelist()
    python, site = _fresh_venv(tmp_path, wheel)
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(REPORT), encoding="utf-8")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}

    rendered = _run([str(python), "-I", "-c", RENDER, str(report_file)], cwd=outside, env=env)

    assert rendered.returncode == 0, rendered.stderr
    result = json.loads(rendered.stdout)
    assert Path(result["module"]).resolve().is_relative_to(site.resolve())  # the wheel's arena, not src/
    page = result["page"]
    assert "<title>Benchmark report: packaged &lt;smoke&gt;</title>" in page
    assert "<h1>Benchmark: packaged &lt;smoke&gt;</h1>" in page
    assert "Content-Security-Policy\" content=\"default-src 'none'" in html.unescape(page)
    assert '<svg class="chart ratings"' in page
    assert ">1035</td>" in page and ">965</td>" in page and "ollama:slow" in page
    assert "fast says &lt;b&gt;teal&lt;/b&gt;" in page and "<b>teal" not in page
    assert 'class="answer"' in page and "smoke.txt" in page
