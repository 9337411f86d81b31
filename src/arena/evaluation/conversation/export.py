"""A conversation as a file (JSON, CSV, Markdown); `importing.py` reads a JSON file back.

Exports are built from the same view a client sees: while a conversation is blind and not
revealed they carry labels only (and the file name says ``_blind``); afterwards, the full
mapping. The JSON export keeps everything needed to rebuild the conversation: every answer
(regenerated ones too, oldest first), attachments with their text, the votes and the judge's
verdicts (an import restores them all).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Final

from arena import csv_safe
from arena.evaluation.conversation.verdicts import TurnVerdicts, csv_cell, markdown_lines
from arena.evaluation.conversation.view import ConversationView, ResponseView, TurnView
from arena.storage.models import SAMPLING_FIELDS

FORMAT: Final = "local-llm-arena/conversation"
VERSION: Final = 1
EXTENSIONS: Final = {"json": "json", "markdown": "md", "csv": "csv"}
SPEED_NAMES: Final = ("prompt_tokens", "tokens", "ttft_s", "duration_s", "tokens_per_sec")
# Whether two answers' speeds compare: later columns, so the CSV's first ones keep their places.
FAIRNESS_NAMES: Final = ("cached_prompt_tokens", "prompt_s", "finish_reason", "generation_round", "contended")
# A wait for a slot, a model load (both inside ttft_s) and the rate's clock: JSON only, for a re-import.
CONDITION_NAMES: Final = ("wait_s", "load_s", "engine_timed")
METRIC_NAMES: Final = SPEED_NAMES + FAIRNESS_NAMES + CONDITION_NAMES
CSV_COLUMNS: Final = (
    "turn", "prompt", "label", "model", *SAMPLING_FIELDS, "answer", "status", *SPEED_NAMES, "up", "down",
    *FAIRNESS_NAMES, "judge_verdicts",
)  # fmt: skip
AT_LIMIT: Final = "stopped at the token limit"  # the page's words (cards.js, transcript.js)
REGENERATED_ALONE: Final = "regenerated alone — speed not compared"
CONTENDED: Final = "other generations ran beside it — speed not compared"
STILL_STREAMING: Final = "the answer was still streaming when the conversation was exported"
MAX_ANSWERS_PER_TURN: Final = 100  # every instance's answers, regenerated ones included
MASKED_EXPORT: Final = (
    "this export hides its models (a blind conversation exported before the reveal), so it cannot be "
    "imported: reveal the conversation, export it again and import that file"
)


def export_filename(view: ConversationView, fmt: str) -> str:
    blind = "_blind" if view.masked else ""
    return f"conversation-{view.id[:8]}{blind}.{EXTENSIONS[fmt]}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _response_json(r: ResponseView) -> dict[str, Any]:
    return {
        "key": r.key,
        "label": r.label,
        "status": r.status,
        "text": r.text,
        "error": r.error,
        **{name: getattr(r, name) for name in METRIC_NAMES},
        "votes": {"up": r.up, "down": r.down},
    }


def _turn_json(t: TurnView, verdicts: TurnVerdicts) -> dict[str, Any]:
    return {
        "index": t.index,
        "system": t.system,
        "user_text": t.user_text,
        "attachments": [
            {"filename": a.get("filename"), "size": a.get("size"), "text": a.get("text")} for a in t.stored_attachments
        ],
        "responses": [_response_json(r) for r in t.responses],
        "pairwise_votes": [{"a": p.a, "b": p.b, "value": p.value} for p in t.pairwise],
        "judgments": [v.to_json() for v in verdicts.get(t.id, [])],
    }


def export_json(view: ConversationView, *, exported_at: datetime, verdicts: TurnVerdicts | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(exported_at),
        "conversation": {
            "id": view.id,
            "title": view.title,
            "blind": view.blind,
            "masked": view.masked,
            "revealed_at": _iso(view.revealed_at),
            "created_at": _iso(view.created_at),
            "updated_at": _iso(view.updated_at),
        },
        "instances": [{"key": i.key, "label": i.label, **(i.settings or {})} for i in view.instances],
        "turns": [_turn_json(t, verdicts or {}) for t in view.turns],
    }


def export_csv(view: ConversationView, *, verdicts: TurnVerdicts | None = None) -> str:
    """One row per answer (the latest of each instance, in display order), with the judge's verdicts about it."""
    settings = {i.label: i.settings or {} for i in view.instances}
    out = io.StringIO()
    writer = csv_safe.Writer(out, lineterminator="\r\n")  # defuses formula cells: answers are untrusted
    writer.writerow(CSV_COLUMNS)
    for turn in view.turns:
        for r in turn.latest():
            known = settings.get(r.label, {})
            writer.writerow(
                [
                    turn.index + 1,
                    turn.user_text,
                    r.label,
                    known.get("model", ""),
                    *(known.get(name, "") for name in SAMPLING_FIELDS),
                    r.text,
                    r.status,
                    *("" if getattr(r, name) is None else getattr(r, name) for name in SPEED_NAMES),
                    r.up,
                    r.down,
                    *("" if getattr(r, name) is None else getattr(r, name) for name in FAIRNESS_NAMES),
                    csv_cell((verdicts or {}).get(turn.id, []), label=r.label),
                ]
            )
    return out.getvalue()


def cache_note(r: ResponseView) -> str:
    """What the page's card says about the prompt cache (cards.js cacheNote)."""
    if r.cached_prompt_tokens is None:
        return "prompt cache not reported by the engine"
    if r.cached_prompt_tokens == 0:
        return "cold prompt cache"
    return f"{r.cached_prompt_tokens} of {r.prompt_tokens if r.prompt_tokens is not None else '?'} prompt tokens cached — not in the crown"


def speed_notes(r: ResponseView, *, compared: bool) -> list[str]:
    """The notes the page shows under an answer's metrics, once they may be shown (not while blind):
    the token-limit mark, the cache state and whether its speed was compared with the others'."""
    if r.status == "streaming":
        return []
    notes = [AT_LIMIT] if r.status == "ok" and r.finish_reason == "length" else []
    notes.append(cache_note(r))
    notes += [REGENERATED_ALONE] if compared and r.generation_round else []
    return notes + ([CONTENDED] if r.contended else [])


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def export_markdown(view: ConversationView, *, exported_at: datetime, verdicts: TurnVerdicts | None = None) -> str:
    lines = [f"# {view.title}", "", f"Exported from Local LLM Arena on {exported_at:%Y-%m-%d %H:%M} UTC.", ""]
    if view.masked:
        lines += ["Blind comparison: the models stay hidden until they are revealed.", ""]
    elif view.blind:
        lines += [f"Blind comparison, revealed on {view.revealed_at:%Y-%m-%d %H:%M} UTC.", ""]
    lines += ["| Label | Model | " + " | ".join(SAMPLING_FIELDS) + " |", "|---" * (2 + len(SAMPLING_FIELDS)) + "|"]
    for i in view.instances:
        known = i.settings or {}
        shown = [known.get("model", "hidden")] + [known.get(name, "") for name in SAMPLING_FIELDS]
        lines.append(f"| {_cell(i.label)} | " + " | ".join(_cell(v) for v in shown) + " |")
    names = {i.label: (i.settings or {}).get("model") for i in view.instances}
    for turn in view.turns:
        lines += ["", f"## Turn {turn.index + 1}", ""]
        if turn.system:
            lines += [f"**System:** {turn.system}", ""]
        lines += ["**User:**", "", turn.user_text]
        if turn.attachments:
            files = ", ".join(f"`{a['filename']}` ({a['size']:,} bytes)" for a in turn.attachments)
            lines += ["", f"Attached: {files}"]
        latest = turn.latest()
        for r in latest:
            heading = f"### {r.label}" + (f" — `{names[r.label]}`" if names.get(r.label) else "")
            facts = [f"status: {r.status}"]
            facts += [f"{r.tokens} tokens"] if r.tokens is not None else []
            facts += [f"{r.ttft_s} s to first token"] if r.ttft_s is not None else []
            facts += [f"{r.tokens_per_sec} tokens/s"] if r.tokens_per_sec is not None else []
            facts += [] if view.masked else speed_notes(r, compared=len(latest) > 1)
            facts += [f"votes: {r.up} up, {r.down} down"]
            lines += ["", heading, "", r.text or "_(no text)_"]
            lines += ["", f"Error: {r.error}"] if r.error else []
            lines += ["", "_" + " · ".join(facts) + "_"]
        for p in turn.pairwise:
            lines += ["", f"Pairwise vote ({p.a} vs {p.b}): **{p.value}**"]
        lines += markdown_lines((verdicts or {}).get(turn.id, []), cell=_cell)
    return "\n".join(lines) + "\n"
