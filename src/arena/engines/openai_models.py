"""Reading an OpenAI-compatible ``GET /models`` answer into ``ModelInfo``s."""

from __future__ import annotations

import httpx

from arena.engines.base import ModelInfo
from arena.errors import EngineProtocolError


def not_an_openai_api(url: str, *, endpoint: str) -> EngineProtocolError:
    """The error for a 404 on the model list: the base URL is most likely wrong."""
    return EngineProtocolError(
        f"{url} answered 404 (endpoint '{endpoint}'): is this an OpenAI-compatible API, "
        "and does the base URL end with /v1?"
    )


def model_list(response: httpx.Response, *, url: str, endpoint: str, kind: str) -> list[ModelInfo]:
    """The models in a 200 answer, as ``<kind>:<endpoint>/<model>``; ids that are not strings are skipped."""
    try:
        data = response.json()["data"]
        ids = [item["id"] for item in data]
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineProtocolError(
            f"{url} did not answer with an OpenAI model list (endpoint '{endpoint}'): "
            "does the base URL end with /v1?"
        ) from exc
    return [
        ModelInfo(id=f"{kind}:{endpoint}/{model_id}", engine=kind, name=model_id, endpoint=endpoint)
        for model_id in ids
        if isinstance(model_id, str) and model_id
    ]
