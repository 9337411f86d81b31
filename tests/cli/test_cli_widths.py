"""The ids a user copies out of `arena` tables (for `-m`, `--baseline`, `bench resume`, `user
role`) come out whole: on an 80-column terminal, on one narrower than the id, and in a pipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena import accounts
from arena.storage.db import Database
from tests.cli.terminal import arena_env, in_pipe, in_terminal
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.doubles.ollama import DoubleModel, ollama_double
from tests.support.models import SMOL

# Real Ollama names from Hugging Face are long: their ids do not fit beside five other columns in 80.
LONG_NAMES = [
    "hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M",
    "hf.co/unsloth/DeepSeek-R1-Distill-Qwen-14B-GGUF:UD-Q4_K_XL",
]
LONG_IDS = [f"ollama:{name}" for name in LONG_NAMES]


def whole(model_id: str, lines: list[str]) -> bool:
    return any(model_id in line for line in lines)


@pytest.fixture
def ollama_url() -> str:  # type: ignore[misc]
    with ollama_double(models=[DoubleModel(name=name) for name in LONG_NAMES]) as double:
        yield double.url


@pytest.mark.parametrize("columns", [40, 80, 160])
def test_models_shows_every_id_whole_on_any_terminal(ollama_url: str, columns: int) -> None:
    lines = in_terminal(["models"], columns=columns, env=arena_env(OLLAMA_HOST=ollama_url))
    for model_id in [SMOL, *LONG_IDS]:
        assert whole(model_id, lines), "\n".join(lines)
    if columns >= 80:  # a table that fits: other columns made room, nothing runs past the edge
        assert any("│" in line for line in lines)
        assert all(len(line) <= columns for line in lines), "\n".join(lines)
    if columns == 160:  # room for everything
        assert any(LONG_IDS[1] in line and "Q4_K_M" in line and "1,321 MB" in line for line in lines)


def test_models_in_a_pipe_prints_plain_full_lines_and_json_for_scripts(ollama_url: str) -> None:
    env = arena_env(OLLAMA_HOST=ollama_url)
    lines = in_pipe(["models"], env=env)
    assert lines[0].split() == ["model", "engine", "size", "memory", "family", "parameters", "quantization"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if line.startswith(("local:", "ollama:"))}
    assert rows[LONG_IDS[1]] == ["ollama", "1,321", "MB", "llama", "1.2B", "Q4_K_M"]
    # On disk, and held once loaded: the weights + one batch's KV cache (8 slots, ARENA_MAX_INSTANCES,
    # × 2048 tokens) + the tokenizer object's 256 tokens.
    assert rows[SMOL][:5] == ["local", "98", "MB", "482", "MB"]
    assert not any(mark in line for line in lines for mark in "│┃━…")
    assert any(line.startswith(f"ollama {ollama_url}: up") for line in lines)

    data = json.loads("\n".join(in_pipe(["models", "--json"], env=env)))
    assert {m["id"] for m in data["models"]} >= {SMOL, *LONG_IDS}
    assert {(e["engine"], e["reachable"]) for e in data["engines"]} == {("local", True), ("ollama", True)}


@pytest.mark.parametrize("columns", [80, 100])
def test_the_leaderboard_by_instance_shows_whole_instance_ids(isolated_environment: Path, columns: int) -> None:
    database = Database(url=f"sqlite:///{isolated_environment / 'arena.db'}")
    database.migrate()
    try:
        for _ in range(3):
            turn = seed_turn(database, models=LONG_IDS)
            pairwise_vote(database, turn, "A")
    finally:
        database.dispose()
    instance_ids = turn.instance_ids
    assert all(len(iid) > 60 for iid in instance_ids)

    lines = in_terminal(
        ["leaderboard", "--by", "instance", "--rounds", "20", "--matrix"], columns=columns, env=arena_env()
    )
    for rank, iid in enumerate(instance_ids, start=1):  # the first always won
        assert whole(iid, lines), "\n".join(lines)
        assert whole(f"{rank}. {iid}", lines), "the win-rate matrix's row labels too"

    piped = in_pipe(["leaderboard", "--by", "instance", "--rounds", "20"], env=arena_env())
    winner = next(line for line in piped if instance_ids[0] in line)
    assert winner.split()[0] == "1" and "3·0·0·0" in winner and "●" in winner


def test_bench_list_and_user_list_show_whole_ids_and_names(isolated_environment: Path) -> None:
    from arena.evaluation.bench.plan import create_run
    from arena.evaluation.bench.prompt_sets import parse_prompt_set
    from arena.evaluation.bench.spec import BenchSpec, parse_model_spec

    database = Database(url=f"sqlite:///{isolated_environment / 'arena.db'}")
    database.migrate()
    name = "an-evaluator-with-a-rather-long-name-from-the-directory-service"
    try:
        spec = BenchSpec(name="nightly", instances=[parse_model_spec(LONG_IDS[0], defaults={})])
        prompts = parse_prompt_set(b"Say hello.\n", filename="hello.txt")
        run_id = create_run(database=database, spec=spec, prompt_set=prompts, prompt_file="hello.txt")
        accounts.add_user(database, username=name, password="long-enough-secret", role="viewer")
    finally:
        database.dispose()

    for lines in (
        in_terminal(["bench", "list"], columns=60, env=arena_env()),
        in_pipe(["bench", "list"], env=arena_env()),
    ):
        assert whole(run_id, lines), "\n".join(lines)
    assert json.loads("\n".join(in_pipe(["bench", "list", "--json"], env=arena_env())))[0]["id"] == run_id

    for lines in (
        in_terminal(["user", "list"], columns=50, env=arena_env()),
        in_pipe(["user", "list"], env=arena_env()),
    ):
        assert whole(name, lines), "\n".join(lines)
    listed = json.loads("\n".join(in_pipe(["user", "list", "--json"], env=arena_env())))
    assert [(u["username"], u["role"]) for u in listed] == [(name, "viewer")]


def test_a_narrow_terminal_says_which_columns_it_hid_and_how_to_see_them(ollama_url: str) -> None:
    env = arena_env(OLLAMA_HOST=ollama_url)
    narrow = in_terminal(["models"], columns=80, env=env)
    text = " ".join(narrow)
    assert "hidden to fit the terminal" in text and "--json" in text, "\n".join(narrow)
    assert "quantization" in text  # the dropped column is named
    assert all(len(line) <= 80 for line in narrow), "\n".join(narrow)
    wide = in_terminal(["models"], columns=160, env=env)
    assert not any("hidden" in line for line in wide), "\n".join(wide)
