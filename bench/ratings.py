"""Benchmark: Bradley–Terry + 1000 bootstrap rounds on 1,000,000 simulated battles among 50 models,
against a plain reference and against FastChat 0.2.36's own code.

    PYTHONPATH=src python bench/ratings.py [--battles N] [--models M] [--rounds R] [--seed S]
        [--fastchat-battles N] [--fastchat-rounds R] [--fastchat-python PATH | --cache-dir DIR]

Battles are drawn from known strengths: each pair of models equally likely, sides at random,
the expected score of i against j exactly the Bradley–Terry probability, with ties (a third of
them both-bad) most frequent between close models. Prints the time of the arena's batched fit,
the largest rating error against the truth, how many 95% intervals cover the truth, and the same
bootstrap done by a plain reference -- a per-round loop of scipy L-BFGS-B fits of the same
penalised likelihood with an analytic gradient -- timed side by side in the same run.

Then FastChat 0.2.36's own leaderboard code (``compute_elo_mle_with_tie``: one sklearn logistic
regression over the battles, duplicated so a tie is a win for each side; ``get_bootstrap_result``:
a pandas resample and a refit per round) on a smaller set of battles, where it finishes in
reasonable time, with the arena on the very same battles: ratings agreement, rank order and
intervals, and the speed ratio. FastChat runs in a virtual environment of its own
(``fschat==0.2.36`` without its dependencies, numpy<2, pandas, scikit-learn, tqdm), created
under ``--cache-dir`` on first use (PyPI must be reachable), or the Python given by
``--fastchat-python``; ``bench/fastchat_reference.py`` runs there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from arena.evaluation.ratings.fit import DEFAULT_L2, bootstrap
from arena.evaluation.ratings.pairs import OUTCOME_CODES, Battle, PairCounts, aggregate, counts_from_arrays

SCALE = 400.0
MEAN = 1000.0
NATURAL = math.log(10.0) / SCALE  # rating points -> natural-log units


def simulate(*, battles: int, models: int, seed: int) -> tuple[PairCounts, np.ndarray, dict[str, np.ndarray]]:
    """Battles among models whose true ratings (mean 1000, spread 200) are returned too."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(MEAN, 200.0, models)
    truth += MEAN - truth.mean()
    first = rng.integers(0, models, battles)
    second = (first + rng.integers(1, models, battles)) % models
    expected = expit(NATURAL * (truth[first] - truth[second]))
    # Ties are likeliest between equals and never move the expected score off the BT value.
    tie = 0.3 * 4.0 * expected * (1.0 - expected)
    draw = rng.random(battles)
    outcome = np.where(
        draw < expected - tie / 2,
        OUTCOME_CODES["a"],
        np.where(draw < expected + tie / 2, OUTCOME_CODES["tie"], OUTCOME_CODES["b"]),
    )
    both_bad = (outcome == OUTCOME_CODES["tie"]) & (rng.random(battles) < 1 / 3)
    outcome[both_bad] = OUTCOME_CODES["both_bad"]
    names = [f"model-{index:02d}" for index in range(models)]
    arrays = {"model_a": first, "model_b": second, "outcome": outcome}
    return counts_from_arrays(models=names, **arrays), truth, arrays


def reference_bootstrap(counts: PairCounts, *, rounds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The straightforward way: one multinomial draw and one scipy L-BFGS-B fit per round."""
    size = len(counts.models)
    first, second = np.triu_indices(size, k=1)
    draws = counts.draws()[first, second]
    cells = np.stack([counts.wins[first, second], counts.wins[second, first], draws], axis=1).ravel()
    occupied = np.flatnonzero(cells)
    total = int(cells.sum())
    rng = np.random.default_rng(seed)

    def fit(score_first: np.ndarray, score_second: np.ndarray) -> np.ndarray:
        played = score_first + score_second

        def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            gap = theta[first] - theta[second]
            loss = 0.5 * DEFAULT_L2 * theta @ theta - (played * log_expit(gap) - score_second * gap).sum()
            residual = played * expit(gap) - score_first
            gradient = np.bincount(first, residual, size) - np.bincount(second, residual, size)
            return float(loss), gradient + DEFAULT_L2 * theta

        theta = minimize(loss_and_gradient, np.zeros(size), jac=True, method="L-BFGS-B", tol=1e-10).x
        return MEAN + (theta - theta.mean()) / NATURAL

    point = fit(counts.wins[first, second] + 0.5 * draws, counts.wins[second, first] + 0.5 * draws)
    samples = np.empty((rounds, size))
    for round_index in range(rounds):
        drawn = np.zeros(cells.size)
        drawn[occupied] = rng.multinomial(total, cells[occupied] / total)
        drawn = drawn.reshape(-1, 3)
        samples[round_index] = fit(drawn[:, 0] + 0.5 * drawn[:, 2], drawn[:, 1] + 0.5 * drawn[:, 2])
    return point, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--skip-reference", action="store_true", help="time only the arena's fit")
    parser.add_argument("--skip-objects", action="store_true", help="do not time aggregate() over Battle objects")
    parser.add_argument("--fastchat-battles", type=int, default=50_000, help="battles for the FastChat comparison")
    parser.add_argument("--fastchat-rounds", type=int, default=50, help="bootstrap rounds for FastChat")
    parser.add_argument("--fastchat-python", type=Path, help="a Python with fschat==0.2.36 (else one is made)")
    parser.add_argument("--cache-dir", type=Path, default=_default_cache(), help="where FastChat's venv is made")
    parser.add_argument("--skip-fastchat", action="store_true", help="do not compare with FastChat's own code")
    options = parser.parse_args()

    counts, truth, arrays = simulate(battles=options.battles, models=options.models, seed=options.seed)
    print(f"{options.battles:,} battles among {options.models} models, {options.rounds} bootstrap rounds")

    started = time.perf_counter()
    result = bootstrap(counts, rounds=options.rounds, seed=options.seed)
    elapsed = time.perf_counter() - started
    error = np.abs(result.ratings - truth).max()
    covered = np.mean((result.ci_low <= truth) & (truth <= result.ci_high))
    width = np.median(result.ci_high - result.ci_low)
    print(f"arena BT + bootstrap (batched Newton): {elapsed:6.2f} s")
    print(f"  largest |rating - truth|: {error:.2f} points; median 95% CI width: {width:.1f} points")
    print(f"  95% CI covers the truth for {covered:.0%} of models")

    if not options.skip_reference:
        started = time.perf_counter()
        point, samples = reference_bootstrap(counts, rounds=options.rounds, seed=options.seed)
        reference = time.perf_counter() - started
        low, high = np.percentile(samples, [2.5, 97.5], axis=0)
        cells = _resampled_cells(counts)
        started = time.perf_counter()
        np.random.default_rng(options.seed).multinomial(int(cells.sum()), cells / cells.sum(), size=options.rounds)
        resampling = time.perf_counter() - started
        print(f"plain reference, per-round scipy L-BFGS-B loop:  {reference:6.2f} s")
        print(f"  ratio reference / arena: {reference / elapsed:.1f}x")
        if elapsed > 2 * resampling:
            fits = f"the fits alone: {(reference - resampling) / (elapsed - resampling):.1f}x"
        else:  # on a busy machine the timed resampling can take about as long as the whole arena run
            fits = "too close to the arena's whole time to take apart here"
        print(f"  (the multinomial resampling both do: {resampling:.2f} s; {fits})")
        rating_gap = np.abs(point - result.ratings).max()
        bound_gap = max(np.abs(low - result.ci_low).max(), np.abs(high - result.ci_high).max())
        print(f"  agreement: ratings within {rating_gap:.2g} points, CI bounds within {bound_gap:.2g} points")

    if not options.skip_objects:
        names = counts.models
        started = time.perf_counter()
        battles = [
            Battle(model_a=names[a], model_b=names[b], outcome=_OUTCOMES[o])  # type: ignore[arg-type]
            for a, b, o in zip(
                arrays["model_a"].tolist(), arrays["model_b"].tolist(), arrays["outcome"].tolist(), strict=True
            )
        ]
        built = time.perf_counter() - started
        started = time.perf_counter()
        from_objects = aggregate(battles)
        aggregated = time.perf_counter() - started
        assert np.array_equal(from_objects.battles, counts.battles)
        print(f"building {len(battles):,} Battle objects: {built:.2f} s; aggregate() over them: {aggregated:.2f} s")

    if not options.skip_fastchat:
        python = options.fastchat_python or fastchat_venv(options.cache_dir)
        compare_with_fastchat(
            python,
            battles=options.fastchat_battles,
            models=options.models,
            rounds=options.fastchat_rounds,
            seed=options.seed,
        )


FASTCHAT_REQUIREMENTS = ("numpy<2", "pandas", "scikit-learn", "tqdm")


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "arena-bench"


def fastchat_venv(cache: Path) -> Path:
    """The Python of a venv holding FastChat 0.2.36 (without its serving dependencies), made once."""
    venv = cache / "fastchat-0.2.36"
    python = venv / "bin" / "python"
    ready = venv / ".installed"
    if not ready.exists():
        print(f"creating FastChat 0.2.36's environment in {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        # pip's output only on failure: it warns, rightly, that fschat's serving dependencies are absent.
        for packages in (["fschat==0.2.36", "--no-deps"], list(FASTCHAT_REQUIREMENTS)):
            done = subprocess.run([*pip, *packages], capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"pip install {' '.join(packages)} failed:\n{done.stdout}{done.stderr}")
        ready.touch()
    return python


def compare_with_fastchat(python: Path, *, battles: int, models: int, rounds: int, seed: int) -> None:
    """FastChat 0.2.36's bootstrap and the arena's on the same battles: agreement and speed, side by side."""
    counts, truth, arrays = simulate(battles=battles, models=models, seed=seed + 1)
    print(f"\nFastChat 0.2.36's own code: {battles:,} battles among {models} models, {rounds} bootstrap rounds")
    started = time.perf_counter()
    ours = bootstrap(counts, rounds=rounds, seed=seed)
    arena_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        battles_file, out = Path(scratch) / "battles.npz", Path(scratch) / "fastchat.json"
        np.savez(battles_file, names=np.array(counts.models), **arrays)
        script = Path(__file__).with_name("fastchat_reference.py")
        command = [str(python), str(script), str(battles_file), str(rounds), str(seed), str(out)]
        subprocess.run(command, check=True, env={**os.environ, "TQDM_DISABLE": "1"})
        theirs = json.loads(out.read_text())
    names = list(counts.models)

    def centred(values: dict[str, float]) -> np.ndarray:
        array = np.array([values[name] for name in names])
        return array - array.mean() + MEAN

    point = centred(theirs["point"])
    shift = point.mean() - np.array([theirs["point"][n] for n in names]).mean()
    low = np.array([theirs["ci_low"][n] for n in names]) + shift
    high = np.array([theirs["ci_high"][n] for n in names]) + shift
    same_order = list(np.argsort(-point, kind="stable")) == list(np.argsort(-ours.ratings, kind="stable"))
    covered = np.mean((low <= truth) & (truth <= high))
    print(f"arena BT + bootstrap (batched Newton):   {arena_s:8.2f} s")
    print(
        f"FastChat get_bootstrap_result (sklearn): {theirs['bootstrap_s']:8.2f} s  (one fit: {theirs['fit_s']:.2f} s)"
    )
    print(f"  ratio FastChat / arena: {theirs['bootstrap_s'] / max(arena_s, 1e-9):,.0f}x")
    print(f"  ratings agree within {np.abs(point - ours.ratings).max():.2f} points; same rank order: {same_order}")
    print("  (both centred on 1000; what differs is sklearn's default L2 penalty, C=1, in FastChat's fit)")
    bound_gap = max(np.abs(low - ours.ci_low).max(), np.abs(high - ours.ci_high).max())
    print(f"  95% CI bounds within {bound_gap:.2f} points; FastChat's CIs cover the truth for {covered:.0%} of models")
    print(
        f"  largest |rating - truth|: arena {np.abs(ours.ratings - truth).max():.2f}, FastChat {np.abs(point - truth).max():.2f}"
    )
    print(f"  (FastChat's environment: {', '.join(f'{k} {v}' for k, v in theirs['versions'].items())})")


def _resampled_cells(counts: PairCounts) -> np.ndarray:
    first, second = np.triu_indices(len(counts.models), k=1)
    cells = np.stack([counts.wins[first, second], counts.wins[second, first], counts.draws()[first, second]], axis=1)
    return cells[cells > 0].astype(float)


_OUTCOMES = {code: outcome for outcome, code in OUTCOME_CODES.items()}

if __name__ == "__main__":
    main()
