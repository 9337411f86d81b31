"""Turn chat messages into the prompt text a GGUF model expects."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from arena.engines.base import Message

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter


@dataclass(frozen=True, kw_only=True)
class FormattedPrompt:
    text: str
    stop: list[str]
    add_bos: bool  # False when the template already wrote the BOS token


# A base model continues text: a transcript that opens with two short, on-topic exchanges makes
# "the assistant's next line" the likeliest continuation. (Gemma-3-270M, asked in Gemma's turn
# format, mostly wandered off; framed this way it answered every question of our check on topic.)
COMPLETION_PREAMBLE = (
    "A conversation between a user and a helpful, knowledgeable assistant. "
    "The assistant answers each question directly, accurately and briefly."
)
COMPLETION_EXAMPLES = (
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many legs does a spider have?", "A spider has eight legs."),
)
COMPLETION_STOPS = ["\nUser:", "\n\n\n"]


def completion_prompt(messages: list[Message]) -> FormattedPrompt:
    """A plain transcript for base models (no chat template): preamble, the system text, two
    example exchanges, the conversation, then "Assistant:" for the model to continue. It stops
    where the model would start the user's next line."""
    parts = [COMPLETION_PREAMBLE]
    parts += [m.content.strip() for m in messages if m.role == "system" and m.content.strip()]
    parts += [f"User: {question}\nAssistant: {answer}" for question, answer in COMPLETION_EXAMPLES]
    turns = [
        f"{'Assistant' if m.role == 'assistant' else 'User'}: {m.content.strip()}"
        for m in messages
        if m.role != "system"
    ]
    text = "\n\n".join(parts) + "\n\n" + "\n".join(_pair_up(turns)) + "\nAssistant:"
    return FormattedPrompt(text=text, stop=list(COMPLETION_STOPS), add_bos=True)


def _pair_up(turns: list[str]) -> list[str]:
    """A blank line before each user turn after the first, as in the examples."""
    return [("\n" + turn if turn.startswith("User:") and index else turn) for index, turn in enumerate(turns)]


@lru_cache(maxsize=32)
def _formatter(template: str, eos: str, bos: str, eos_id: int) -> Jinja2ChatFormatter:
    """Compiling a chat template takes milliseconds: do it once per model, not per request."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])


def template_prompt(llm: Llama, messages: list[Message]) -> FormattedPrompt:
    """The chat template stored in the GGUF, rendered the way llama-cpp-python renders it."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:  # a base model after all: prompt it as one
        return completion_prompt(messages)
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    formatter = _formatter(template, eos, bos, eos_id)
    result = formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
    stop = result.stop if isinstance(result.stop, list) else ([result.stop] if result.stop else [])
    return FormattedPrompt(text=result.prompt, stop=stop, add_bos=not result.added_special)
