"""Build the engines the settings ask for, every HTTP client under the settings' one egress policy."""

from __future__ import annotations

from arena.engines.base import Engine
from arena.engines.egress import EgressPolicy
from arena.engines.router import Router
from arena.settings import Settings


def build_router(settings: Settings) -> Router:
    egress = EgressPolicy.from_settings(settings)
    engines: list[Engine] = []
    embedded = None
    if settings.embedded_enabled:
        from arena.engines.embedded import EmbeddedEngine

        engines.append(
            embedded := EmbeddedEngine(
                data_dir=settings.data_dir,
                models_dir=settings.resolved_models_dir,
                slots=settings.embedded_slots or settings.max_instances,
                n_ctx=settings.embedded_n_ctx,
                threads=settings.embedded_threads,
                max_memory=settings.embedded_max_memory,
                batching=settings.embedded_batching,
            )
        )
    from arena.engines.ollama import OllamaEngine
    from arena.engines.openai import OpenAIEngine

    engines += [
        OllamaEngine(base_url=url, timeout=settings.request_timeout, egress=egress) for url in settings.ollama_hosts
    ]
    engines += [
        OpenAIEngine(
            name=endpoint.name,
            base_url=endpoint.base_url,
            api_key=endpoint.api_key.get_secret_value() if endpoint.api_key else None,
            timeout=settings.request_timeout,
            egress=egress,
        )
        for endpoint in settings.openai_endpoints
    ]
    hub = None
    if settings.embedded_enabled and settings.hf_endpoint:  # what it pulls, the embedded engine runs
        from arena.engines.hf_pull import HuggingFaceHub

        hub = HuggingFaceHub(
            endpoint=settings.hf_endpoint,
            models_dir=settings.resolved_models_dir,
            egress=egress,
            download_origins=settings.hf_redirect_origins,
        )
        hub.on_removed = embedded.forget if embedded is not None else None  # it unloads what a delete removed
    return Router(engines=engines, egress=egress, hub=hub)
