"""The models that can judge: any model the router serves, or an opted-in cloud model.

A judge is asked for JSON through ``GenerationRequest.json_schema``; each engine maps that to
its own structured-output mechanism (Ollama ``format``, a llama.cpp grammar, OpenAI
``response_format``, Anthropic ``output_config``). Cloud judges are endpoints an admin
configured (ARENA_CLOUD_JUDGES; none by default) and exist only for the request that names one:
the key comes from that request or the endpoint's own environment variable, goes only to that
endpoint's origin (the engine's client is guarded by the router's egress policy narrowed to it),
lives in the engine's client for the length of the request, and is never stored, logged or put
into a message.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from arena.endpoints import CloudJudgeEndpoint, CloudProvider
from arena.engines.base import Chunk, Engine, GenerationRequest, Message, SamplingOptions
from arena.engines.egress import EgressPolicy
from arena.engines.openai import OpenAIEngine
from arena.engines.router import Router
from arena.errors import EngineTimeout, InvalidInput
from arena.evaluation.conversation.contention import generating as contention_ledger

# Greedy and reproducible: a judge should give the same verdict for the same answers.
DEFAULT_JUDGE_OPTIONS: Final = SamplingOptions(
    temperature=0.01, top_p=1.0, top_k=1, repeat_penalty=1.0, num_predict=512, seed=42
)


@dataclass(kw_only=True)
class StreamingJudge:
    """A judge over any stream of chunks: collects the whole answer within the time limit."""

    name: str
    cloud: bool
    options: SamplingOptions
    timeout_s: float
    stream: Callable[[GenerationRequest], AsyncIterator[Chunk]]
    on_chunk: Callable[[str], None] | None = None  # hears each piece of text as it comes (progress)

    async def complete(self, messages: list[Message], *, schema: dict[str, Any]) -> str:
        request = GenerationRequest(model="", messages=messages, options=self.options, json_schema=schema)
        parts: list[str] = []
        try:
            # A verdict's generation slows any answer generating beside it: the ledger marks them.
            with contention_ledger(object()):
                await self._collect(request, parts)
        except TimeoutError as exc:
            raise EngineTimeout(
                f"the judge {self.name} did not finish within {self.timeout_s:g} s (REQUEST_TIMEOUT)"
            ) from exc
        return "".join(parts)

    async def _collect(self, request: GenerationRequest, parts: list[str]) -> None:
        async with asyncio.timeout(self.timeout_s):
            async with aclosing(self.stream(request)) as chunks:
                async for chunk in chunks:
                    parts.append(chunk.text)
                    if self.on_chunk is not None and chunk.text:
                        self.on_chunk(chunk.text)


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


def find_cloud_judge(
    endpoints: list[CloudJudgeEndpoint], *, name: str | None, provider: CloudProvider | None
) -> CloudJudgeEndpoint:
    """The configured endpoint a request names (or the first of its provider). Callers never
    give a URL: the server talks only to endpoints an admin configured (ARENA_CLOUD_JUDGES)."""
    for endpoint in endpoints:
        if (name is None or endpoint.name == name) and (provider is None or endpoint.provider == provider):
            return endpoint
    configured = ", ".join(f"{e.name} ({e.provider})" for e in endpoints) or "none"
    wanted = f"named {name!r}" if name is not None else f"for provider {provider}"
    raise InvalidInput(
        f"no cloud judge {wanted} is configured (configured: {configured}); an admin adds one to ARENA_CLOUD_JUDGES"
    )


def environment_key(endpoint: CloudJudgeEndpoint) -> SecretStr | None:
    """The endpoint's own key variable, read when a request needs it."""
    value = os.environ.get(endpoint.api_key_env, "").strip()
    return SecretStr(value) if value else None


def cloud_host(endpoint: CloudJudgeEndpoint) -> str:
    """Where a cloud judge sends the question and answers, for the privacy notice."""
    parts = urlsplit(endpoint.base_url)
    return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")


@asynccontextmanager
async def cloud_judge(
    *,
    endpoint: CloudJudgeEndpoint,
    model: str,
    api_key: SecretStr | None,
    options: SamplingOptions,
    timeout_s: float,
    egress: EgressPolicy,
) -> AsyncIterator[StreamingJudge]:
    """A cloud judge for one request; its connections close when the block ends. The key (the
    caller's, or the endpoint's own variable) goes to the endpoint's configured URL only."""
    if not egress.allows(endpoint.base_url):  # a judge from outside the settings: never
        raise InvalidInput(f"the cloud judge {endpoint.name} is not in ARENA_CLOUD_JUDGES")
    key = api_key if api_key is not None and api_key.get_secret_value().strip() else environment_key(endpoint)
    if key is None:
        raise InvalidInput(
            f"the {endpoint.name} judge needs an API key: give cloud.api_key or set {endpoint.api_key_env}"
        )
    engine: Engine
    if endpoint.provider == "anthropic":
        from arena.engines.anthropic import AnthropicEngine

        engine = AnthropicEngine(
            api_key=key,
            base_url=endpoint.base_url,
            timeout=timeout_s,
            egress=egress,
            key_variable=endpoint.api_key_env,
        )
    else:
        engine = OpenAIEngine(  # hosted APIs refuse llama.cpp's extra sampling fields
            name="cloud-judge",
            base_url=endpoint.base_url,
            api_key=key,
            timeout=timeout_s,
            egress=egress,
            standard_fields_only=True,
            key_variable=endpoint.api_key_env,
        )
    try:
        yield StreamingJudge(
            name=f"{endpoint.provider}:{model}",
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
    cloud_endpoint: CloudJudgeEndpoint | None,
    cloud_model: str | None,
    cloud_api_key: SecretStr | None,
    options: SamplingOptions,
    timeout_s: float,
) -> AsyncIterator[StreamingJudge]:
    """The judge a request names: a local model (checked to exist first) or a configured cloud model."""
    if cloud_endpoint is not None:
        if cloud_model is None:
            raise InvalidInput("a cloud judge needs its model name")
        async with cloud_judge(
            endpoint=cloud_endpoint,
            model=cloud_model,
            api_key=cloud_api_key,
            options=options,
            timeout_s=timeout_s,
            egress=router.egress,
        ) as judge:
            yield judge
        return
    if judge_model is None:
        raise InvalidInput("name a judge: judge_model or cloud")
    await router.check_known(judge_model)
    yield local_judge(router=router, model_id=judge_model, options=options, timeout_s=timeout_s)

