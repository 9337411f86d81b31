"""Where the server may send requests, as configured: Ollama hosts, OpenAI-compatible endpoints
and cloud judges, parsed from their variables and normalised once (no user info, query or
fragment), so that nothing a caller sends later can point them elsewhere. Keys never live in
these variables: each endpoint names the variable that holds its key."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr

OLLAMA_DEFAULT_PORT = 11434


class OpenAIEndpoint(BaseModel):
    """One OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, OpenRouter...)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Used in model ids: openai:<name>/<model>")
    base_url: str = Field(description="Base URL including /v1, e.g. http://127.0.0.1:8080/v1")
    api_key: SecretStr | None = Field(default=None, description="Read from the environment, never logged")


CloudProvider = Literal["openai_compatible", "anthropic"]


class CloudJudgeEndpoint(BaseModel):
    """A cloud API an admin allows as a judge. Callers pick it by name, never by URL, and the
    server-held key (the variable `api_key_env` names) only ever goes to this `base_url`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="What callers name: cloud.endpoint")
    provider: CloudProvider
    base_url: str = Field(description="e.g. https://api.openai.com/v1 or https://api.anthropic.com")
    api_key_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", description="Variable holding its key")


# The two public APIs, turned on by name (ARENA_CLOUD_JUDGES=openai,anthropic); none is on by default,
# so no caller can spend the server's OPENAI_API_KEY / ANTHROPIC_API_KEY unless an admin says so.
CLOUD_JUDGE_PRESETS: dict[str, CloudJudgeEndpoint] = {
    "openai": CloudJudgeEndpoint(
        name="openai", provider="openai_compatible", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY"
    ),
    "anthropic": CloudJudgeEndpoint(
        name="anthropic", provider="anthropic", base_url="https://api.anthropic.com", api_key_env="ANTHROPIC_API_KEY"
    ),
}


def normalize_endpoint_url(raw: str, *, what: str) -> str:
    """An admin-configured endpoint URL in one canonical form: http(s), a host, no user info,
    query or fragment (so nothing appended later can smuggle another path), no trailing slash."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what}: {raw!r} is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError(f"{what}: {raw!r} must have no user info, query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValueError(f"{what}: {raw!r} has a port out of range") from None
    if any(ch.isspace() or ord(ch) < 32 for ch in raw.strip()):
        raise ValueError(f"{what}: {raw!r} contains a space or a control character")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def cloud_key_env_name(endpoint_name: str) -> str:
    return "ARENA_CLOUD_KEY_" + re.sub(r"[^A-Za-z0-9]", "_", endpoint_name).upper()


def _cloud_judge_item(item: Any) -> Any:
    """A bare preset name (`openai`, `anthropic`) stands for that public API."""
    if isinstance(item, str):
        if item.strip() not in CLOUD_JUDGE_PRESETS:
            known = ", ".join(CLOUD_JUDGE_PRESETS)
            raise ValueError(f"{item.strip()!r} is not a preset ({known}); write name=provider@url")
        return CLOUD_JUDGE_PRESETS[item.strip()]
    return item


def parse_cloud_judges(raw: Any) -> list[CloudJudgeEndpoint]:
    """Unset or `none`: no cloud judge. Else a comma list of preset names (`openai`, `anthropic`)
    and `name=provider@url` entries, or a JSON list of those names and {name, provider, base_url,
    api_key_env?} objects. Keys never live in this variable."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none")):
        return []
    if isinstance(raw, list | tuple):
        items = list(raw)
    elif isinstance(raw, str) and raw.lstrip().startswith("["):
        items = json.loads(raw)
    elif isinstance(raw, str):
        items = []
        for part in filter(None, (p.strip() for p in raw.split(","))):
            name, sep, rest = part.partition("=")
            provider, at, url = rest.partition("@")
            if not sep:
                items.append(name)  # a preset's name
                continue
            if not at:
                raise ValueError(f"expected a preset name or name=provider@url, got {part!r}")
            items.append({"name": name.strip(), "provider": provider.strip(), "base_url": url.strip()})
    else:
        raise ValueError("expected none, openai,anthropic, name=provider@url,... or a JSON list")
    endpoints = []
    for item in map(_cloud_judge_item, items):
        if not isinstance(item, CloudJudgeEndpoint):
            if not isinstance(item, dict):
                raise ValueError(f"expected a preset name or an object, got {item!r}")
            item = dict(item)
            item.setdefault("api_key_env", cloud_key_env_name(str(item.get("name", ""))))
            item = CloudJudgeEndpoint.model_validate(item)
        endpoints.append(item.model_copy(update={"base_url": normalize_endpoint_url(item.base_url, what=item.name)}))
    names = [e.name for e in endpoints]
    if len(names) != len(set(names)):
        raise ValueError("cloud judge names must be unique")
    return endpoints




def normalize_ollama_url(raw: str) -> str:
    """Read OLLAMA_HOST the way Ollama's own clients do: scheme and port are optional."""
    value = raw.strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a host or URL: {raw!r}")
    host = parts.hostname
    if host == "0.0.0.0":  # a bind address, reached on loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (OLLAMA_DEFAULT_PORT if parts.scheme == "http" else 443)
    return f"{parts.scheme}://{host}:{port}{parts.path}"


def openai_key_env_name(endpoint_name: str) -> str:
    return "ARENA_OPENAI_KEY_" + re.sub(r"[^A-Za-z0-9]", "_", endpoint_name).upper()


def parse_openai_endpoints(raw: Any) -> list[OpenAIEndpoint]:
    """Accept `name=url,name=url` or a JSON list of {name, base_url, api_key_env?}.

    Keys never live in this variable: they come from `ARENA_OPENAI_KEY_<NAME>` or the
    variable named by `api_key_env`.
    """
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        items = raw
    elif isinstance(raw, str) and raw.lstrip().startswith("["):
        items = json.loads(raw)
    elif isinstance(raw, str):
        items = []
        for part in filter(None, (p.strip() for p in raw.split(","))):
            name, sep, url = part.partition("=")
            if not sep:
                raise ValueError(f"expected name=url, got {part!r}")
            items.append({"name": name.strip(), "base_url": url.strip()})
    else:
        raise ValueError("expected name=url,... or a JSON list")
    endpoints = []
    for item in items:
        if isinstance(item, OpenAIEndpoint):
            endpoints.append(item)
            continue
        item = dict(item)
        key_env = item.pop("api_key_env", None) or openai_key_env_name(str(item.get("name", "")))
        item.setdefault("api_key", os.environ.get(key_env) or None)
        endpoint = OpenAIEndpoint.model_validate(item)
        endpoint.base_url = normalize_endpoint_url(endpoint.base_url, what=f"endpoint {endpoint.name}")
        endpoints.append(endpoint)
    names = [e.name for e in endpoints]
    if len(names) != len(set(names)):
        raise ValueError("endpoint names must be unique")
    return endpoints
