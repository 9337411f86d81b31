"""FastChat 0.2.36's own leaderboard code, run on battles the arena's bench wrote (``bench/ratings.py``).

Runs under the Python of a virtual environment holding ``fschat==0.2.36`` (installed without its
dependencies) with numpy<2, pandas, scikit-learn and tqdm; it imports nothing from the arena.

    python bench/fastchat_reference.py BATTLES.npz ROUNDS SEED OUT.json

Importing ``fastchat.serve.monitor.elo_analysis`` would pull in the serving stack (torch, plotly,
the model registry), so the two functions the leaderboard uses, ``compute_elo_mle_with_tie`` (one
sklearn logistic regression) and ``get_bootstrap_result`` (a pandas resample and a refit per
round), are read from the installed file and executed verbatim, unchanged.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FUNCTIONS = ("compute_elo_mle_with_tie", "get_bootstrap_result")
WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")  # FastChat's names for outcome codes 0..3


def fastchat_functions() -> dict[str, Any]:
    """The two functions, compiled from the installed FastChat's own source file."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    from tqdm import tqdm

    spec = importlib.util.find_spec("fastchat")
    if spec is None or spec.origin is None:
        raise SystemExit("fastchat is not installed in this Python")
    source_file = Path(spec.origin).parent / "serve" / "monitor" / "elo_analysis.py"
    tree = ast.parse(source_file.read_text(), filename=str(source_file))
    chosen = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS]
    if sorted(node.name for node in chosen) != sorted(FUNCTIONS):
        raise SystemExit(f"{source_file} does not define {', '.join(FUNCTIONS)}: not FastChat 0.2.36?")
    namespace: dict[str, Any] = {"np": np, "pd": pd, "math": math, "tqdm": tqdm}
    exec(compile(ast.Module(body=chosen, type_ignores=[]), str(source_file), "exec"), namespace)
    return namespace


def main() -> None:
    battles_file, rounds, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    functions = fastchat_functions()
    arrays = np.load(battles_file)
    names = np.array([str(name) for name in arrays["names"]])
    battles = pd.DataFrame(
        {
            "model_a": names[arrays["model_a"]],
            "model_b": names[arrays["model_b"]],
            "winner": np.array(WINNERS)[arrays["outcome"]],
        }
    )
    import sklearn.linear_model  # noqa: F401  # imported inside FastChat's fit: import it before the clock starts

    np.random.seed(seed)  # pandas' sample() draws from numpy's global generator
    started = time.perf_counter()
    point = functions["compute_elo_mle_with_tie"](battles)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    samples = functions["get_bootstrap_result"](battles, functions["compute_elo_mle_with_tie"], rounds)
    bootstrap_s = time.perf_counter() - started
    low, high = samples.quantile(0.025), samples.quantile(0.975)
    result = {
        "point": {str(k): float(v) for k, v in point.items()},
        "ci_low": {str(k): float(v) for k, v in low.items()},
        "ci_high": {str(k): float(v) for k, v in high.items()},
        "fit_s": fit_s,
        "bootstrap_s": bootstrap_s,
        "versions": {"numpy": np.__version__, "pandas": pd.__version__, "sklearn": _version("sklearn")},
    }
    Path(out).write_text(json.dumps(result))


def _version(module: str) -> str:
    return str(getattr(__import__(module), "__version__", "?"))


if __name__ == "__main__":
    main()
