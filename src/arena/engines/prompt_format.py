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


def gemma_prompt(messages: list[Message]) -> FormattedPrompt:
    """Gemma's turn format. Gemma has no system role: the system text leads the first user turn."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    parts = []
    for message in messages:
        if message.role == "system":
            continue
        content = message.content
        if message.role == "user" and system:
            content, system = f"{system}\n\n{content}", ""
        role = "model" if message.role == "assistant" else "user"
        parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    parts.append("<start_of_turn>model\n")
    return FormattedPrompt(text="".join(parts), stop=["<end_of_turn>"], add_bos=True)


@lru_cache(maxsize=32)
def _formatter(template: str, eos: str, bos: str, eos_id: int) -> Jinja2ChatFormatter:
    """Compiling a chat template takes milliseconds: do it once per model, not per request."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])


def template_prompt(llm: Llama, messages: list[Message]) -> FormattedPrompt:
    """The chat template stored in the GGUF, rendered the way llama-cpp-python renders it."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        # No template and no known format: a plain transcript is the least surprising choice.
        text = "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"
        return FormattedPrompt(text=text, stop=["\nuser:"], add_bos=True)
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    formatter = _formatter(template, eos, bos, eos_id)
    result = formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
    stop = result.stop if isinstance(result.stop, list) else ([result.stop] if result.stop else [])
    return FormattedPrompt(text=result.prompt, stop=stop, add_bos=not result.added_special)
