"""A promptfoo config's providers as arena instances, with the settings promptfoo would send.

promptfoo's OpenAI chat provider sends temperature 0 and max_tokens 1024 for what its config
leaves out, and no top_p (``OPENAI_TEMPERATURE``, ``OPENAI_MAX_TOKENS`` and ``OPENAI_TOP_P`` in the
config's ``env`` change those; ``omitDefaults: true`` sends nothing). The bench applies the same, so
`arena bench run promptfooconfig.yaml` and `promptfoo eval` against the gateway (/v1) run one
model at the same settings. promptfoo's Ollama provider talks to Ollama itself and sends only
what its config names: those instances keep the arena's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from arena.errors import InvalidInput
from arena.evaluation.bench.promptfoo_yaml import KeyPath, Located
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.gateway import NAMESPACES, sampling_options

PROVIDER_KEYS: Final = frozenset({"id", "label", "config"})
CONFIG_KEYS: Final = frozenset(
    {
        "apiBaseUrl", "apiHost", "apiKey", "apiKeyEnvar", "temperature", "top_p", "max_tokens",
        "seed", "passthrough", "omitDefaults", "frequency_penalty", "presence_penalty",
    }
)  # fmt: skip
OLLAMA_KEYS: Final = frozenset({"num_predict", "temperature", "top_k", "top_p", "repeat_penalty", "seed"})
OLLAMA_OTHER: Final = frozenset(
    {
        "tfs_z", "useNUMA", "num_ctx", "num_keep", "num_batch", "num_gqa", "num_gpu", "main_gpu", "low_vram", "f16_kv",
        "logits_all", "vocab_only", "use_mmap", "use_mlock", "embedding_only", "rope_frequency_base",
        "rope_frequency_scale", "typical_p", "repeat_last_n", "presence_penalty", "frequency_penalty", "mirostat",
        "mirostat_tau", "mirostat_eta", "penalize_newline", "stop", "numa", "num_thread", "think", "tools",
    }
)  # fmt: skip  (promptfoo's other Ollama options: the arena runs its six sampling settings only)
PASSTHROUGH_KEYS: Final = frozenset({"top_k", "repeat_penalty"})  # the gateway's own extensions
REFUSED_CONFIG: Final = {
    "response_format": "the bench cannot constrain an answer's format yet (the gateway can: run this config "
    "with promptfoo against /v1)",
    "systemPrompt": "put the system message in the prompt (a chat-format prompt) instead",
    "stop": "stop sequences are not among the arena's sampling settings; use max_tokens to bound an answer",
    "tools": "the arena's models answer in text; tool calls are not supported",
    "functions": "the arena's models answer in text; function calls are not supported",
    "max_completion_tokens": "use max_tokens (promptfoo sends max_tokens for this model)",
}
CODE_PROVIDERS: Final = ("exec:", "python:", "file://", "golang:", "ruby:", "http:", "https:", "webhook:", "script:")
OTHER_OPENAI_APIS: Final = ("openai:completion:", "openai:responses:", "openai:embedding:", "openai:assistant:")
OLLAMA_PREFIXES: Final = ("ollama:chat:", "ollama:completion:")
# promptfoo's OpenAI provider, for settings its config leaves out (src/providers/openai/chat.ts)
# (None: sent only when the env names it)
OPENAI_DEFAULTS: Final = {"temperature": ("OPENAI_TEMPERATURE", 0.0), "top_p": ("OPENAI_TOP_P", None),
                          "max_tokens": ("OPENAI_MAX_TOKENS", 1024)}  # fmt: skip
# The arena's names for SamplingOptions fields, as a promptfoo config spells them
OPENAI_NAMES: Final = {"num_predict": "max_tokens"}


def parse_providers(
    raw: Any, at: Located, env: dict[str, Any], process_env: Mapping[str, str] | None = None
) -> list[ModelInstance]:
    """`env`: the config's own `env` mapping (promptfoo's OPENAI_* defaults); `process_env`: the
    environment `arena bench run` runs in (an upload has none), which the config's `env` overrides."""
    if raw is None:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    return [
        parse_provider(entry, at, ["providers", index] if isinstance(raw, list) else ["providers"], env, process_env)
        for index, entry in enumerate(entries)
    ]


def parse_provider(
    entry: Any, at: Located, where: KeyPath, env: dict[str, Any], process_env: Mapping[str, str] | None = None
) -> ModelInstance:
    """One provider (an id, or {id, label, config}) at `where` as an arena instance."""
    config: Any = {}
    label = None
    if isinstance(entry, dict):
        for key in entry:
            if key not in PROVIDER_KEYS:
                raise at.error([*where, key], f"not supported (a provider has {', '.join(sorted(PROVIDER_KEYS))})")
        config, label = entry.get("config") or {}, entry.get("label")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise at.error([*where, "label"], "must be a non-empty name")
        entry = entry.get("id")
        where = [*where, "id"]
    if not isinstance(entry, str) or not entry:
        raise at.error(where, "a provider is an id string or {id: …, label: …, config: …}")
    model, openai = arena_model(entry, at, where)
    if not isinstance(config, dict):
        raise at.error([*where[:-1], "config"], "must be a mapping")
    where_config = [*where[:-1], "config"]
    if entry.startswith(OLLAMA_PREFIXES):
        settings = _ollama_settings(config, at, where_config)
    else:
        settings = _settings(config, at, where_config, _defaults(env, process_env or {}, at) if openai else None)
    try:
        return ModelInstance(model=model, id=label.strip() if label else None, **settings)
    except ValidationError as exc:
        raise at.error(where_config, _explain(exc)) from None


def arena_model(provider: str, at: Located, where: KeyPath) -> tuple[str, bool]:
    """The arena model id a promptfoo provider id names, and whether promptfoo would reach it
    through its OpenAI provider (whose defaults then apply)."""
    if provider.startswith(CODE_PROVIDERS):
        raise at.error(where, f"{provider!r} runs code or calls out; the arena runs its own models only")
    if provider.startswith(OTHER_OPENAI_APIS):
        raise at.error(where, f"{provider!r}: the arena's gateway serves chat completions; use openai:chat:<arena id>")
    if provider.startswith(OLLAMA_PREFIXES):
        # promptfoo's Ollama provider reaches the same Ollama model the arena runs as ollama:<name>.
        return "ollama:" + provider.split(":", 2)[2], False
    if provider.startswith("openai:chat:"):
        model, openai = provider.removeprefix("openai:chat:"), True
    elif provider.startswith("openai:") and provider.removeprefix("openai:").startswith(NAMESPACES):
        # promptfoo reads openai:<type>:<model>: openai:local:x would send the model "local"
        raise at.error(
            where, f"{provider!r}: promptfoo would send the model as {provider.split(':')[1]!r}; use "
            f"openai:chat:{provider.removeprefix('openai:')}"
        )  # fmt: skip
    else:
        model, openai = provider, False
    if model.startswith("openai:") and "/" not in model:
        raise at.error(
            where,
            f"{provider!r} is promptfoo's provider for a cloud OpenAI model; the arena runs its own models: use "
            "openai:chat:<arena id> with apiBaseUrl set to the arena's /v1 (GET /v1/models lists the ids)",
        )
    if not model.startswith(NAMESPACES):
        raise at.error(
            where,
            f"{provider!r} is not an arena model: use openai:chat:<arena id> (ids start with local:, ollama: or "
            "openai:<endpoint>/; GET /v1/models lists them)",
        )
    return model, openai


def _settings(config: dict[str, Any], at: Located, where: KeyPath, env: dict[str, Any] | None) -> dict[str, Any]:
    """The instance's sampling settings: the config's own, promptfoo's defaults for the rest
    (`env` None: not an OpenAI provider, the arena's defaults)."""
    for key in config:
        if key in REFUSED_CONFIG:
            raise at.error([*where, key], REFUSED_CONFIG[key])
        if key not in CONFIG_KEYS:
            raise at.error([*where, key], f"not supported (use {', '.join(sorted(CONFIG_KEYS))})")
    for key in ("frequency_penalty", "presence_penalty"):
        if config.get(key) not in (None, 0):
            raise at.error([*where, key], "only 0: use passthrough.repeat_penalty (1.0–2.0), the arena's penalty")
    passthrough = config.get("passthrough") or {}
    if not isinstance(passthrough, dict):
        raise at.error([*where, "passthrough"], "must be a mapping")
    for key in passthrough:
        if key not in PASSTHROUGH_KEYS:
            raise at.error([*where, "passthrough", key], f"not supported (use {', '.join(sorted(PASSTHROUGH_KEYS))})")
    given = {name: config.get(name) for name in ("temperature", "top_p", "seed", "max_tokens")}
    if env is not None:
        for name, (variable, default) in OPENAI_DEFAULTS.items():
            if given[name] is None:  # omitDefaults: only what the environment names is sent
                given[name] = env.get(variable, None if config.get("omitDefaults") else default)
    if given["seed"] == 0:
        raise at.error([*where, "seed"], "the arena's seeds start at 1 (its 0 means a random seed): leave it out")
    try:
        options = sampling_options(**given, **passthrough)
    except ValidationError as exc:
        raise at.error(where, _explain(exc)) from None
    except (TypeError, ValueError, InvalidInput) as exc:
        raise at.error(where, f"settings the arena cannot use ({exc})") from None
    return options.model_dump()


def _defaults(env: dict[str, Any], process_env: Mapping[str, str], at: Located) -> dict[str, Any]:
    """promptfoo's OPENAI_* settings as numbers: the config's `env` first, then the process's."""
    numbers: dict[str, Any] = {}
    for variable, _default in OPENAI_DEFAULTS.values():
        in_config = env.get(variable) is not None
        value = env.get(variable) if in_config else process_env.get(variable)
        if value is None or value == "":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            place = f"the environment variable {variable}={value!r}"
            raise (at.error(["env", variable], "must be a number") if in_config else at.error([], f"{place}: not a number")) from None
        numbers[variable] = int(number) if variable == "OPENAI_MAX_TOKENS" else number
    return numbers


def _ollama_settings(config: dict[str, Any], at: Located, where: KeyPath) -> dict[str, Any]:
    """promptfoo's Ollama options (sent to Ollama as they are) as the arena's six."""
    for key in config:
        if key in OLLAMA_OTHER:
            raise at.error([*where, key], f"not among the arena's sampling settings (use {', '.join(sorted(OLLAMA_KEYS))})")
        if key not in OLLAMA_KEYS:
            raise at.error([*where, key], f"not an Ollama option the arena reads (use {', '.join(sorted(OLLAMA_KEYS))})")
    if config.get("seed") == 0:
        raise at.error([*where, "seed"], "the arena's seeds start at 1 (its 0 means a random seed): leave it out")
    given = {**{k: v for k, v in config.items() if k != "num_predict"}, "max_tokens": config.get("num_predict")}
    try:
        options = sampling_options(**given)
    except ValidationError as exc:
        raise at.error(where, _explain(exc, names={})) from None
    except (TypeError, ValueError, InvalidInput) as exc:
        raise at.error(where, f"settings the arena cannot use ({exc})") from None
    return options.model_dump()


def _explain(exc: ValidationError, names: dict[str, str] = OPENAI_NAMES) -> str:
    """pydantic's complaint in the config's own words: 'max_tokens: at most 4096'."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][-1]) if error["loc"] else "settings"
        name = names.get(field, field)
        context = error.get("ctx") or {}
        if "le" in context:
            problems.append(f"{name}: at most {context['le']}")
        elif "ge" in context:
            problems.append(f"{name}: at least {context['ge']}")
        else:
            problems.append(f"{name}: {error['msg'].lower()}")
    return "; ".join(problems)
