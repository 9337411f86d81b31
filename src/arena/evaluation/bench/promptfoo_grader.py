"""The grader a promptfoo config names for its model-graded assertions (pure).

promptfoo sends ``llm-rubric`` and ``model-graded-closedqa`` to ``options.provider`` (defaultTest's
or a test's) or an assertion's own ``provider``, else to its default grader on OpenAI's cloud API.
Naming an arena model there (``openai:chat:<arena id>`` with ``apiBaseUrl`` at the arena's /v1)
makes promptfoo grade locally, and the bench grades with the same model and the same settings
(``{"model": …, six sampling settings}`` in each graded item's checks). One run has one grader:
two different ones in a config are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arena.evaluation.bench.promptfoo_providers import parse_provider
from arena.evaluation.bench.promptfoo_yaml import KeyPath, Located


def grader_of(
    config: dict[str, Any], at: Located, env: dict[str, Any], process_env: Mapping[str, str] | None
) -> dict[str, Any] | None:
    """The config's grader as {"model", settings…}, or None when it names none."""
    named: list[tuple[KeyPath, Any]] = []
    tests = config.get("tests") if isinstance(config.get("tests"), list) else []
    sources = [(["defaultTest"], config.get("defaultTest")), *((["tests", i], t) for i, t in enumerate(tests))]
    for where, test in sources:
        if not isinstance(test, dict):
            continue
        options = test.get("options")
        if isinstance(options, dict) and options.get("provider") is not None:
            named.append(([*where, "options", "provider"], options["provider"]))
        for index, assertion in enumerate(test.get("assert") or []):
            if isinstance(assertion, dict) and assertion.get("provider") is not None:
                named.append(([*where, "assert", index, "provider"], assertion["provider"]))
    grader: dict[str, Any] | None = None
    for where, raw in named:
        if isinstance(raw, dict) and "text" in raw and "id" not in raw:
            raw, where = raw["text"], [*where, "text"]  # promptfoo's {text: …, embedding: …} form
        found = parse_provider(raw, at, where, env, process_env).model_dump(exclude={"id"})
        if grader is not None and found != grader:
            raise at.error(
                where, f"a second grader ({found['model']}, or other settings) besides {grader['model']}: the arena "
                "grades a run with one grader; name the same provider everywhere"
            )  # fmt: skip
        grader = found
    return grader


def grader_notes(items_checks: list[dict[str, Any] | None], judge: str | None) -> list[str]:
    """What `arena bench run` says about who grades the model-graded assertions."""
    from arena.evaluation.bench.promptfoo_graded import DEFAULT_GRADER_MODEL, needs_grader

    graded = [checks for checks in items_checks if checks and needs_grader(checks)]
    if not graded:
        return []
    named = next((checks["grader"]["model"] for checks in graded if checks.get("grader")), None)
    notes = []
    if named is None:
        notes.append(
            "warning: this config's llm-rubric/model-graded-closedqa assertions name no grader: promptfoo itself "
            "would send them to its default grader on OpenAI's cloud API. Add `defaultTest: {options: {provider: "
            "{id: openai:chat:<arena id>, config: {apiBaseUrl: <arena>/v1}}}}` to grade them locally in both; "
            f"the arena grades them with {judge or DEFAULT_GRADER_MODEL}"
        )
    elif judge is not None:
        notes.append(f"--judge {judge} grades the model-graded assertions instead of the config's grader {named}")
    return notes
