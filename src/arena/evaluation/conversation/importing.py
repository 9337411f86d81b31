"""A JSON conversation export back as a new conversation: checked whole, then written whole."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.orm import Session

from arena.errors import InvalidInput, TooLarge
from arena.evaluation.conversation.attachments import check_attachments
from arena.evaluation.conversation.export import MASKED_EXPORT, MAX_ANSWERS_PER_TURN, STILL_STREAMING
from arena.evaluation.conversation.instances import ModelInstance, check_instances
from arena.evaluation.conversation.verdicts import MAX_VERDICTS_PER_TURN, ImportedVerdict, import_verdicts
from arena.storage import answer_metrics, repository
from arena.storage import votes as vote_store
from arena.storage.battles import refreshed_once
from arena.storage.db import Database
from arena.storage.models import SAMPLING_FIELDS


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
    cached_prompt_tokens: int | None = Field(None, ge=0)
    prompt_s: float | None = Field(None, ge=0)
    finish_reason: str | None = Field(None, max_length=32)
    wait_s: float | None = Field(None, ge=0)
    load_s: float | None = Field(None, ge=0)
    engine_timed: bool | None = None
    contended: bool | None = None
    generation_round: int = Field(0, ge=0, le=1_000_000)
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
    with database.session() as session, refreshed_once(session):  # its battles derived once, at the end
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
            turn_id, answers = _import_turn(session, conversation.id, turn, [a.meta() for a in attachments], ids)
            import_verdicts(
                session, conversation_id=conversation.id, turn_id=turn_id, verdicts=turn.judgments, ids=ids,
                run_ids=run_ids, where=f"turns[{t}]", answers=answers,
            )  # fmt: skip
        if parsed.conversation.blind and parsed.conversation.revealed_at is not None:
            repository.mark_revealed(session, conversation_id=conversation.id, at=parsed.conversation.revealed_at)
        return conversation.id


def _import_turn(
    session: Session, conversation_id: str, turn: _Turn, attachments: list[dict[str, Any]], ids: dict[str, str]
) -> tuple[int, dict[str, list[int]]]:
    """The turn's new id, and each label's new answers to it, oldest first (what verdicts judged)."""
    answers: dict[str, list[int]] = {}
    stored = repository.add_turn(
        session,
        conversation_id=conversation_id,
        user_text=turn.user_text,
        system=turn.system,
        attachments=attachments or None,
    )
    for r in turn.responses:
        response = repository.start_response(
            session, turn_id=stored.id, instance_id=ids[r.label], generation_round=r.generation_round
        )
        answers.setdefault(r.label, []).append(response.id)
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
        answer_metrics.record_cache_and_finish(
            session,
            response_id=response.id,
            cached_prompt_tokens=r.cached_prompt_tokens,
            prompt_s=r.prompt_s,
            finish_reason=r.finish_reason,
            wait_s=r.wait_s,
            load_s=r.load_s,
            engine_timed=r.engine_timed,
            contended=r.contended,
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
    return stored.id, answers
