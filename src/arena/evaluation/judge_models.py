"""The models that can judge: any model the router serves, or an opted-in cloud model.

A judge is asked for JSON through ``GenerationRequest.json_schema``; each engine maps that to
its own structured-output mechanism (Ollama ``format``, a llama.cpp grammar, OpenAI
``response_format``, Anthropic ``output_config``). Cloud judges exist only for the request
that names them: the key comes from that request or the provider's usual environment
variable, lives in the engine's client for the length of the request, and is never stored,
logged or put into a message.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from arena.engines.base import Chunk, Engine, GenerationRequest, Message, SamplingOptions
from arena.engines.openai import OpenAIEngine
from arena.engines.router import Router
from arena.errors import EngineError, EngineRejected, EngineTimeout, InvalidInput

CloudProvider = Literal["openai_compatible", "anthropic"]

# Greedy and reproducible: a judge should give the same verdict for the same answers.
DEFAULT_JUDGE_OPTIONS: Final = SamplingOptions(
    temperature=0.01, top_p=1.0, top_k=1, repeat_penalty=1.0, num_predict=512, seed=42
)
DEFAULT_BASE_URLS: Final[dict[str, str]] = {
    "openai_compatible": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
KEY_VARIABLES: Final[dict[str, str]] = {"openai_compatible": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass(kw_only=True)
class StreamingJudge:
    """A judge over any stream of chunks: collects the whole answer within the time limit."""

    name: str
    cloud: bool
    options: SamplingOptions
    timeout_s: float
    stream: Callable[[GenerationRequest], AsyncIterator[Chunk]]

    async def complete(self, messages: list[Message], *, schema: dict[str, Any]) -> str:
        request = GenerationRequest(model="", messages=messages, options=self.options, json_schema=schema)
        parts: list[str] = []
        try:
            async with asyncio.timeout(self.timeout_s):
                async with aclosing(self.stream(request)) as chunks:
                    async for chunk in chunks:
                        parts.append(chunk.text)
        except TimeoutError as exc:
            raise EngineTimeout(
                f"the judge {self.name} did not finish within {self.timeout_s:g} s (REQUEST_TIMEOUT)"
            ) from exc
        return "".join(parts)


def local_judge(*, router: Router, model_id: str, options: SamplingOptions, timeout_s: float) -> StreamingJudge:
    """A model the router serves (embedded, Ollama, a configured OpenAI-compatible endpoint)."""
    canonical = router.canonical_id(model_id)
    return StreamingJudge(
        name=canonical,
        cloud=False,
        options=options,
        timeout_s=timeout_s,
        stream=lambda request: router.stream(canonical, request),
    )


def environment_key(provider: CloudProvider) -> SecretStr | None:
    """The provider's usual variable (ANTHROPIC_API_KEY, OPENAI_API_KEY), read when a request needs it."""
    value = os.environ.get(KEY_VARIABLES[provider], "").strip()
    return SecretStr(value) if value else None


def cloud_host(provider: CloudProvider, base_url: str | None) -> str:
    """Where a cloud judge sends the question and answers, for the privacy notice."""
    url = base_url or DEFAULT_BASE_URLS[provider]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("cloud.base_url must be an http:// or https:// URL")
    return parts.hostname + (f":{parts.port}" if parts.port else "")


@asynccontextmanager
async def cloud_judge(
    *,
    provider: CloudProvider,
    model: str,
    base_url: str | None,
    api_key: SecretStr | None,
    options: SamplingOptions,
    timeout_s: float,
) -> AsyncIterator[StreamingJudge]:
    """A cloud judge for one request; its connections close when the block ends."""
    cloud_host(provider, base_url)  # refuses a malformed URL before anything is sent
    key = api_key if api_key is not None and api_key.get_secret_value().strip() else environment_key(provider)
    if key is None:
        raise InvalidInput(
            f"the {provider} judge needs an API key: give cloud.api_key or set {KEY_VARIABLES[provider]}"
        )
    engine: Engine
    if provider == "anthropic":
        from arena.engines.anthropic import AnthropicEngine

        engine = AnthropicEngine(api_key=key, base_url=base_url, timeout=timeout_s)
    else:
        engine = _StandardOpenAIEngine(
            name="cloud-judge", base_url=base_url or DEFAULT_BASE_URLS[provider], api_key=key, timeout=timeout_s
        )
    try:
        yield StreamingJudge(
            name=f"{provider}:{model}",
            cloud=True,
            options=options,
            timeout_s=timeout_s,
            stream=lambda request: engine.stream(replace(request, model=model)),
        )
    finally:
        await engine.aclose()


@asynccontextmanager
async def open_judge(
    *,
    router: Router,
    judge_model: str | None,
    cloud_provider: CloudProvider | None,
    cloud_model: str | None,
    cloud_base_url: str | None,
    cloud_api_key: SecretStr | None,
    options: SamplingOptions,
    timeout_s: float,
) -> AsyncIterator[StreamingJudge]:
    """The judge a request names: a local model (checked to exist first) or a cloud model."""
    if cloud_provider is not None:
        if cloud_model is None:
            raise InvalidInput("a cloud judge needs its model name")
        async with cloud_judge(
            provider=cloud_provider,
            model=cloud_model,
            base_url=cloud_base_url,
            api_key=cloud_api_key,
            options=options,
            timeout_s=timeout_s,
        ) as judge:
            yield judge
        return
    if judge_model is None:
        raise InvalidInput("name a judge: judge_model or cloud")
    await router.check_known(judge_model)
    yield local_judge(router=router, model_id=judge_model, options=options, timeout_s=timeout_s)


class _StandardOpenAIEngine(OpenAIEngine):
    """Sends only OpenAI's own sampling fields: hosted APIs refuse llama.cpp's extras."""

    def _chat_payload(self, request: GenerationRequest) -> dict[str, Any]:
        payload = super()._chat_payload(request)
        for extra in ("top_k", "repeat_penalty", "repetition_penalty"):
            payload.pop(extra, None)
        return payload

    def _status_error(self, response: Any, body: bytes, *, model: str | None) -> EngineError:
        if response.status_code in (401, 403):  # the base class names a settings variable; this key is the request's
            return EngineRejected(
                f"{self.base_url} refused the API key (HTTP {response.status_code}); "
                f"give a valid cloud.api_key or set {KEY_VARIABLES['openai_compatible']}"
            )
        return super()._status_error(response, body, model=model)
