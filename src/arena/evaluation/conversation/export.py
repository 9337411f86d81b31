"""A conversation as a file (JSON, CSV, Markdown), and a JSON file back as a new conversation.

Exports are built from the same view a client sees: while a conversation is blind and not
revealed they carry labels only (and the file name says ``_blind``); afterwards, the full
mapping. The JSON export keeps everything needed to rebuild the conversation: every answer
(regenerated ones too, oldest first), attachments with their text, the votes and the judge's
verdicts (an import restores them all).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.orm import Session

from arena import csv_safe
from arena.errors import InvalidInput, TooLarge
from arena.evaluation.conversation.attachments import check_attachments
from arena.evaluation.conversation.instances import ModelInstance, check_instances
from arena.evaluation.conversation.verdicts import (
    MAX_VERDICTS_PER_TURN,
    ImportedVerdict,
    TurnVerdicts,
    csv_cell,
    import_verdicts,
    markdown_lines,
)
from arena.evaluation.conversation.view import ConversationView, ResponseView, TurnView
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import SAMPLING_FIELDS

FORMAT: Final = "local-llm-arena/conversation"
VERSION: Final = 1
EXTENSIONS: Final = {"json": "json", "markdown": "md", "csv": "csv"}
CSV_COLUMNS: Final = (
    "turn", "prompt", "label", "model", *SAMPLING_FIELDS, "answer", "status",
    "prompt_tokens", "tokens", "ttft_s", "duration_s", "tokens_per_sec", "up", "down", "judge_verdicts",
)  # fmt: skip
METRIC_NAMES: Final = ("prompt_tokens", "tokens", "ttft_s", "duration_s", "tokens_per_sec")
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
                    *("" if getattr(r, name) is None else getattr(r, name) for name in METRIC_NAMES),
                    r.up,
                    r.down,
                    csv_cell((verdicts or {}).get(turn.id, []), label=r.label),
                ]
            )
    return out.getvalue()


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
        for r in turn.latest():
            heading = f"### {r.label}" + (f" — `{names[r.label]}`" if names.get(r.label) else "")
            facts = [f"status: {r.status}"]
            facts += [f"{r.tokens} tokens"] if r.tokens is not None else []
            facts += [f"{r.ttft_s} s to first token"] if r.ttft_s is not None else []
            facts += [f"{r.tokens_per_sec} tokens/s"] if r.tokens_per_sec is not None else []
            facts += [f"votes: {r.up} up, {r.down} down"]
            lines += ["", heading, "", r.text or "_(no text)_"]
            lines += ["", f"Error: {r.error}"] if r.error else []
            lines += ["", "_" + " · ".join(facts) + "_"]
        for p in turn.pairwise:
            lines += ["", f"Pairwise vote ({p.a} vs {p.b}): **{p.value}**"]
        lines += markdown_lines((verdicts or {}).get(turn.id, []), cell=_cell)
    return "\n".join(lines) + "\n"


# --- import -------------------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Instance(_Lenient):
    label: str = Field(min_length=1, max_length=32)
    model: str | None = None
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    repeat_penalty: float = 1.1
    num_predict: int = -1
    seed: int = 0


class _Votes(_Lenient):
    up: int = Field(0, ge=0, le=1000)
    down: int = Field(0, ge=0, le=1000)


class _Response(_Lenient):
    label: str
    status: Literal["ok", "error", "stopped", "streaming"]
    text: str = ""
    error: str | None = None
    prompt_tokens: int | None = Field(None, ge=0)
    tokens: int | None = Field(None, ge=0)
    ttft_s: float | None = Field(None, ge=0)
    duration_s: float | None = Field(None, ge=0)
    tokens_per_sec: float | None = Field(None, ge=0)
    votes: _Votes = Field(default_factory=_Votes)

    @model_validator(mode="after")
    def _error_has_message(self) -> _Response:
        if self.status == "error" and not self.error:
            raise ValueError("an answer with status error needs its error message")
        return self


class _Pairwise(_Lenient):
    a: str
    b: str
    value: Literal["A", "B", "tie", "both_bad"]


class _Attachment(_Lenient):
    filename: str
    text: str


class _Turn(_Lenient):
    system: str | None = None
    user_text: str
    attachments: list[_Attachment] = Field(default_factory=list)
    responses: list[_Response] = Field(default_factory=list)
    pairwise_votes: list[_Pairwise] = Field(default_factory=list)
    judgments: list[ImportedVerdict] = Field(default_factory=list)


class _Conversation(_Lenient):
    title: str = Field(min_length=1, max_length=200)
    blind: bool = False
    masked: bool = False
    revealed_at: AwareDatetime | None = None


class _ExportFile(_Lenient):
    format: Literal["local-llm-arena/conversation"]
    version: Literal[1]
    conversation: _Conversation
    instances: list[_Instance] = Field(min_length=1)
    turns: list[_Turn]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "not a conversation export of this arena: " + "; ".join(parts)


def parse_export(data: Any) -> _ExportFile:
    """Check a JSON export; InvalidInput naming what is wrong."""
    if not isinstance(data, dict):
        raise InvalidInput("not a conversation export of this arena: expected a JSON object")
    try:
        parsed = _ExportFile.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc)) from None
    if parsed.conversation.masked or any(i.model is None for i in parsed.instances):
        raise InvalidInput(MASKED_EXPORT)
    labels = [i.label for i in parsed.instances]
    if len(set(labels)) != len(labels):
        raise InvalidInput("instances: two instances have the same label")
    for t, turn in enumerate(parsed.turns):
        named = [(f"responses[{n}].label", r.label) for n, r in enumerate(turn.responses)]
        named += [(f"pairwise_votes[{n}]", side) for n, p in enumerate(turn.pairwise_votes) for side in (p.a, p.b)]
        named += [(f"judgments[{n}]", label) for n, v in enumerate(turn.judgments) for label in v.labels]
        for where, label in named:
            if label not in labels:
                raise InvalidInput(f"turns[{t}].{where}: {label!r} is not the label of one of the instances")
    return parsed


def check_import_size(parsed: _ExportFile, *, max_turns: int, max_votes: int) -> None:
    """An import is data someone hands the server: its size is capped before anything is written."""
    if len(parsed.turns) > max_turns:
        raise TooLarge(f"the export has {len(parsed.turns)} turns; an import holds at most {max_turns} (ARENA_MAX_IMPORT_TURNS)")
    for t, turn in enumerate(parsed.turns):
        if len(turn.responses) > MAX_ANSWERS_PER_TURN:
            raise TooLarge(f"turns[{t}] has {len(turn.responses)} answers; at most {MAX_ANSWERS_PER_TURN} are imported")
        if len(turn.judgments) > MAX_VERDICTS_PER_TURN:
            raise TooLarge(f"turns[{t}] has {len(turn.judgments)} verdicts; at most {MAX_VERDICTS_PER_TURN} are imported")
    votes = sum(r.votes.up + r.votes.down for turn in parsed.turns for r in turn.responses)
    votes += sum(len(turn.pairwise_votes) for turn in parsed.turns)
    if votes > max_votes:
        raise TooLarge(f"the export holds {votes} votes; an import holds at most {max_votes} (ARENA_MAX_IMPORT_VOTES)")


def import_conversation(
    database: Database,
    *,
    data: Any,
    max_instances: int,
    max_attachment_bytes: int,
    max_turns: int,
    max_votes: int,
    owner_id: int | None = None,
) -> str:
    """Rebuild an exported conversation as a new one (new id); all of it or nothing. It is marked
    imported: its votes, those restored now and any cast later, are shown with the conversation
    but kept off the leaderboard unless asked, and so are judge verdicts about its answers."""
    parsed = parse_export(data)
    check_import_size(parsed, max_turns=max_turns, max_votes=max_votes)
    try:
        instances = [
            ModelInstance(model=i.model or "", **{name: getattr(i, name) for name in SAMPLING_FIELDS})
            for i in parsed.instances
        ]
    except ValidationError as exc:
        raise InvalidInput(_describe(exc).replace("not a conversation export of this arena: ", "instances: ")) from None
    try:
        check_instances(instances, max_instances=max_instances)  # the chat's own rules
    except InvalidInput as exc:
        raise InvalidInput(f"instances: {exc}") from None
    try:
        files = [
            check_attachments([(a.filename, a.text) for a in turn.attachments], max_bytes=max_attachment_bytes)
            for turn in parsed.turns
        ]
    except InvalidInput as exc:  # a bad attachment inside the file makes the file malformed: 400, not 413/415
        raise InvalidInput(f"attachments: {exc}") from exc
    ids = {i.label: instance.instance_id for i, instance in zip(parsed.instances, instances, strict=True)}
    with database.session() as session:
        conversation = repository.create_conversation(
            session, title=parsed.conversation.title, blind=parsed.conversation.blind, owner_id=owner_id
        )
        conversation.imported = True  # data, not votes: nothing on it is a battle unless asked for
        for instance in instances:
            repository.upsert_instance(
                session, instance_id=instance.instance_id, model=instance.model, **instance.options.model_dump()
            )
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=list(ids.values()), labels=list(ids)
        )
        run_ids: dict[str, str] = {}
        for t, (turn, attachments) in enumerate(zip(parsed.turns, files, strict=True)):
            turn_id = _import_turn(session, conversation.id, turn, [a.meta() for a in attachments], ids)
            import_verdicts(
                session, conversation_id=conversation.id, turn_id=turn_id, verdicts=turn.judgments, ids=ids,
                run_ids=run_ids, where=f"turns[{t}]",
            )  # fmt: skip
        if parsed.conversation.blind and parsed.conversation.revealed_at is not None:
            repository.mark_revealed(session, conversation_id=conversation.id, at=parsed.conversation.revealed_at)
        return conversation.id


def _import_turn(
    session: Session, conversation_id: str, turn: _Turn, attachments: list[dict[str, Any]], ids: dict[str, str]
) -> int:
    stored = repository.add_turn(
        session,
        conversation_id=conversation_id,
        user_text=turn.user_text,
        system=turn.system,
        attachments=attachments or None,
    )
    for r in turn.responses:
        response = repository.start_response(session, turn_id=stored.id, instance_id=ids[r.label])
        streaming = r.status == "streaming"
        repository.finish_response(
            session,
            response_id=response.id,
            text=r.text,
            status="stopped" if streaming else r.status,
            error=STILL_STREAMING if streaming and not r.error else r.error,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.tokens,
            ttft_s=r.ttft_s,
            duration_s=r.duration_s,
            tokens_per_sec=r.tokens_per_sec,
        )
        for value, count in (("up", r.votes.up), ("down", r.votes.down)):
            vote_store.add_imported_votes(
                session, conversation_id=conversation_id, turn_id=stored.id, kind="thumb", value=value,
                count=count, response_id=response.id,
            )  # fmt: skip
    for p in turn.pairwise_votes:
        vote_store.add_imported_votes(
            session, conversation_id=conversation_id, turn_id=stored.id, kind="pairwise", value=p.value,
            count=1, instance_a=ids[p.a], instance_b=ids[p.b],
        )  # fmt: skip
    return stored.id
