"""The OpenAI-compatible gateway's logic: an OpenAI chat request as an arena generation.

What OpenAI's fields mean here (`sampling_options`), which messages a model sees
(`gateway_messages`), and one answer started (`start_answer`): by default nothing is stored; with
`store` the request becomes a conversation of its own, written as a chat's turn is. Either way
the answer runs through `Comparison`, so its timeout, its errors and the ledger of generations
running at once (`contention`) are those of every other answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from arena.engines.base import Message, SamplingOptions
from arena.engines.router import Router
from arena.errors import InvalidInput, ModelNotAvailable
from arena.evaluation.conversation.compare import Comparison, Event, Target
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.conversation.starting import start_new_turn
from arena.evaluation.conversation.turns import build_messages, plan_turn
from arena.storage.db import Database

# The arena's lowest temperature; OpenAI's 0 (and anything below this) means greedy decoding,
# which is top_k 1 in every engine.
MIN_TEMPERATURE: Final = 0.01
GREEDY_TOP_K: Final = 1
# Model ids the gateway answers to name their engine; a bare name would be guessed at.
NAMESPACES: Final = ("local:", "ollama:", "openai:")
GatewayRole = Literal["system", "developer", "user", "assistant"]


class Refused(InvalidInput):
    """A request the gateway cannot honour as asked (400); `param` names the field at fault."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def sampling_options(
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    repeat_penalty: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
) -> SamplingOptions:
    """OpenAI's sampling fields as the arena's six. A field not given keeps the arena's default,
    so a request with none is the model's default instance, as in a chat. Temperature 0 (below
    0.01) is greedy: the lowest temperature and top_k 1."""
    values: dict[str, Any] = {"top_p": top_p, "top_k": top_k, "repeat_penalty": repeat_penalty, "seed": seed}
    values["num_predict"] = max_tokens
    if temperature is not None:
        values["temperature"] = max(temperature, MIN_TEMPERATURE)
        if temperature < MIN_TEMPERATURE:
            values["top_k"] = GREEDY_TOP_K
    return SamplingOptions(**{name: value for name, value in values.items() if value is not None})


def check_model_id(model: str) -> None:
    """An arena id names its engine (`GET /v1/models` lists them); anything else is a model that
    does not exist here, whatever an engine might guess for a bare name."""
    if not model.startswith(NAMESPACES):
        raise ModelNotAvailable(
            f"The model '{model}' does not exist: the arena's model ids start with local:, ollama: or "
            "openai:<endpoint>/ (GET /v1/models lists them)"
        )


def gateway_messages(messages: Sequence[tuple[GatewayRole, str]], *, history_limit: int) -> list[Message]:
    """What the model sees: every system (and developer) message as one system prompt first, then
    the conversation, which must end with the user (system messages alone are the user's turn). More messages than HISTORY_LIMIT is refused:
    an application must not have its context cut without knowing."""
    system = "\n\n".join(text for role, text in messages if role in ("system", "developer") and text.strip())
    turns = [Message(role=role, content=text) for role, text in messages if role in ("user", "assistant")]
    if not turns and system:
        # OpenAI answers a conversation of system messages alone (promptfoo's graders send one);
        # chat templates need a user turn, so the instructions become it.
        turns, system = [Message(role="user", content=system)], ""
    if not any(turn.content.strip() for turn in turns):
        raise Refused("messages: give at least one message with text", param="messages")
    if len(turns) > history_limit:
        raise Refused(
            f"{len(turns)} user and assistant messages: this arena sends a model at most {history_limit} "
            "(HISTORY_LIMIT)",
            param="messages",
        )
    try:
        return build_messages(history=turns, message=None, system=system or None, history_limit=history_limit)
    except InvalidInput as exc:
        raise Refused(str(exc), param="messages") from exc


@dataclass(frozen=True, kw_only=True)
class GatewayCall:
    """One chat completion, in the arena's terms."""

    model: str
    messages: list[Message]
    options: SamplingOptions
    json_schema: dict[str, Any] | None = None


class Answer:
    """One answer under way; `conversation_id` names the conversation it is stored in, if any."""

    def __init__(self, comparison: Comparison, *, conversation_id: str | None = None) -> None:
        self._comparison = comparison
        self.conversation_id = conversation_id

    def events(self) -> AsyncIterator[Event]:
        """Its tokens as they arrive, then one FinishEvent."""
        return self._comparison.events()

    async def aclose(self) -> None:
        """Stop generating (if it still is) and wait until its end is recorded."""
        await self._comparison.aclose()


async def start_answer(
    *, router: Router, database: Database, call: GatewayCall, store: bool, owner_id: int | None, timeout_s: float
) -> Answer:
    """Start generating now. Without `store` nothing is written anywhere; with it, a new
    conversation (owned by `owner_id`) holds the last user message as its turn, the system prompt,
    and the answer as it streams — written while the engine works on its first token."""
    instance = ModelInstance(model=call.model, **call.options.model_dump())
    target = Target(
        instance_id=instance.instance_id,
        model=call.model,
        options=call.options,
        messages=call.messages,
        json_schema=call.json_schema,
    )
    if not store:
        return Answer(Comparison(router=router, targets=[target], timeout_s=timeout_s))
    plan = plan_turn(
        database=database,  # a new conversation: nothing is read
        instances=[instance],
        history=call.messages,
        message=None,
        system=None,
        conversation_id=None,
        history_limit=len(call.messages),
        owner_id=owner_id,
    )
    plan = dataclasses.replace(plan, targets=[target])  # the very messages and schema asked for
    prepared, comparison, _ = await start_new_turn(router=router, database=database, plan=plan, timeout_s=timeout_s)
    return Answer(comparison, conversation_id=prepared.conversation_id)
