"""The body of an OpenAI-compatible ``POST /chat/completions`` request.

Pure functions of a ``GenerationRequest``: the sampling fields every server in the family
reads (with llama.cpp's extras, or OpenAI's own fields only, for hosted APIs that refuse the
extras), and the two ways of asking for structured output (OpenAI's ``json_schema``, and
llama-cpp-python's ``json_object`` + ``schema``).
"""

from __future__ import annotations

from typing import Any, Literal

from arena.engines.base import GenerationRequest

SchemaStyle = Literal["json_schema", "json_object"]


def chat_payload(
    request: GenerationRequest, *, schema_style: SchemaStyle, standard_fields_only: bool = False
) -> dict[str, Any]:
    """The streamed chat request; -1 tokens ("no limit") and seed 0 ("random") are left out,
    and so are the fields OpenAI's API does not know when ``standard_fields_only``."""
    options = request.options
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": options.temperature,
        "top_p": options.top_p,
    }
    if not standard_fields_only:
        # Not in OpenAI's API, but llama.cpp, llama-cpp-python, LM Studio, vLLM and
        # OpenRouter read top_k (0 = off); vLLM names the penalty `repetition_penalty`.
        payload["top_k"] = options.top_k
        payload["repeat_penalty"] = options.repeat_penalty
        payload["repetition_penalty"] = options.repeat_penalty
    if options.num_predict != -1:
        payload["max_tokens"] = options.num_predict
    if options.seed != 0:
        payload["seed"] = options.seed
    if request.json_schema is not None:
        if schema_style == "json_schema":
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": request.json_schema, "strict": True},
            }
        else:
            payload["response_format"] = {"type": "json_object", "schema": request.json_schema}
    return payload


def refused_json_schema(request: GenerationRequest, *, schema_style: SchemaStyle, status: int, body: bytes) -> bool:
    """Whether a failed answer means "I only know the json_object form": time to switch."""
    # llama-cpp-python answers 500 (sic) with a validation error naming response_format.
    return (
        request.json_schema is not None
        and schema_style == "json_schema"
        and status in (400, 422, 500)
        and b"response_format" in body
    )
