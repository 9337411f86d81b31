"""What `arena` says about itself: --help shows no type after a flag (it takes no value), and
`arena models` marks a base model as the web does."""

from __future__ import annotations

from tests.cli.terminal import arena_env, in_pipe, in_terminal


def test_help_shows_no_bool_after_flags_but_keeps_real_types() -> None:
    top = "\n".join(in_terminal(["--help"], columns=120, env=arena_env()))
    assert "--help" in top and "--install-completion" in top
    assert "<bool>" not in top, top
    run = "\n".join(in_terminal(["bench", "run", "--help"], columns=160, env=arena_env()))
    assert "<bool>" not in run and "<int" in run, run  # --repeats still says it takes a number


def test_models_marks_a_base_model_and_says_what_that_means() -> None:
    lines = in_pipe(["models"], env=arena_env())
    gemma = next(line for line in lines if line.startswith("local:gemma3-270m"))
    smol = next(line for line in lines if line.startswith("local:smollm2-135m-instruct"))
    assert "base" in gemma.split() and "base" not in smol.split()
    assert any(line.startswith("base: a base model, not chat-tuned") for line in lines)
