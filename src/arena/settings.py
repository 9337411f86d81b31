"""One validated Settings object, read once from the environment (and `.env`), passed down."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "local-llm-arena"


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    web_bind: str = Field("127.0.0.1", validation_alias="WEB_BIND", description="Address to listen on")
    web_port: int = Field(7860, ge=1, le=65535, validation_alias="WEB_PORT")
    web_chat_token: SecretStr | None = Field(
        None, validation_alias="WEB_CHAT_TOKEN", description="When set, /api/* needs Authorization: Bearer <token>"
    )
    history_limit: int = Field(40, ge=1, le=1000, validation_alias="HISTORY_LIMIT")
    request_timeout: float = Field(300.0, gt=0, validation_alias="REQUEST_TIMEOUT", description="Seconds")
    max_concurrent_requests: int = Field(
        8,
        ge=1,
        le=256,
        validation_alias="MAX_CONCURRENT_REQUESTS",
        description="v3's limit, in requests: unless ARENA_MAX_GENERATIONS is set, the server runs "
        "at most this many full comparisons (this × ARENA_MAX_INSTANCES generations) at once",
    )
    ollama_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [normalize_ollama_url("127.0.0.1")], validation_alias="OLLAMA_HOST"
    )
    openai_endpoints: Annotated[list[OpenAIEndpoint], NoDecode] = Field(
        default_factory=list, validation_alias="ARENA_OPENAI_ENDPOINTS"
    )
    cloud_judges: Annotated[list[CloudJudgeEndpoint], NoDecode] = Field(
        default_factory=list,
        validation_alias="ARENA_CLOUD_JUDGES",
        description="Cloud APIs allowed as judges: none (the default), the presets openai,anthropic, "
        "name=provider@url,... or JSON; callers pick one by name",
    )
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="ARENA_DATA_DIR")
    models_dir: Path | None = Field(None, validation_alias="ARENA_MODELS_DIR")
    embedded_enabled: bool = Field(True, validation_alias="ARENA_EMBEDDED")
    embedded_slots: int = Field(2, ge=1, le=16, validation_alias="ARENA_EMBEDDED_SLOTS")
    embedded_threads: int | None = Field(None, ge=1, le=256, validation_alias="ARENA_EMBEDDED_THREADS")
    embedded_n_ctx: int = Field(2048, ge=256, le=131072, validation_alias="ARENA_EMBEDDED_N_CTX")
    max_instances: int = Field(8, ge=1, le=32, validation_alias="ARENA_MAX_INSTANCES")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, validation_alias="ARENA_MAX_BODY_BYTES")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="ARENA_ALLOWED_HOSTS",
        description="Host names the server answers to besides the bound address and loopback",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="ARENA_TRUSTED_PROXIES",
        description="Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto/-Host are believed; none by default",
    )
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, ge=1, validation_alias="ARENA_MAX_UPLOAD_BYTES", description="Largest attachable text file"
    )
    max_import_votes: int = Field(
        1000, ge=0, validation_alias="ARENA_MAX_IMPORT_VOTES", description="Most votes one imported conversation holds"
    )
    max_import_turns: int = Field(
        500, ge=1, validation_alias="ARENA_MAX_IMPORT_TURNS", description="Most turns one imported conversation holds"
    )

    # --- who may do what (issue 5) ---
    auth_mode_setting: Literal["none", "token", "users"] | None = Field(
        None,
        validation_alias="ARENA_AUTH_MODE",
        description="none (loopback only), token (WEB_CHAT_TOKEN) or users (accounts); "
        "unset means token when WEB_CHAT_TOKEN is set, otherwise none",
    )
    session_idle_minutes: int = Field(
        120, ge=1, le=60 * 24 * 30, validation_alias="ARENA_SESSION_IDLE_MINUTES", description="Log out after this idle time"
    )
    session_max_hours: int = Field(
        24, ge=1, le=24 * 365, validation_alias="ARENA_SESSION_MAX_HOURS", description="Log out this long after login"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="ARENA_CORS_ORIGINS",
        description="Origins (scheme://host:port) whose pages may call the API; none by default",
    )

    # --- encryption at rest (issue 5): opt-in; checked when the database is opened ---
    encryption_key: SecretStr | None = Field(
        None,
        validation_alias="ARENA_ENCRYPTION_KEY",
        description="32 random bytes in base64 (arena db keygen); encrypts prompts, answers, attachments "
        "and judge rationales in the database",
    )
    encryption_key_file: Path | None = Field(
        None,
        validation_alias="ARENA_ENCRYPTION_KEY_FILE",
        description="A file (mode 0600) holding the encryption key, instead of ARENA_ENCRYPTION_KEY",
    )
    audit_key_file: Path | None = Field(
        None,
        validation_alias="ARENA_AUDIT_KEY_FILE",
        description="The key (mode 0600) that signs the audit log; made on the first start. Default <data dir>/audit.key",
    )

    # --- rate limits, the generation budget and login lockout (issues 5, 10) ---
    # Limits use the `limits` notation ("60/minute", "5 per 10 seconds", "10/second;200/hour"), or "off".
    rate_limit_chat: str = Field(
        "60/minute", validation_alias="ARENA_RATE_LIMIT_CHAT", description="Per user (or address): /api/chat and /api/stream_chat"
    )
    rate_limit_judge: str = Field("30/minute", validation_alias="ARENA_RATE_LIMIT_JUDGE", description="Per user: POST /api/judge")
    rate_limit_pull: str = Field("10/minute", validation_alias="ARENA_RATE_LIMIT_PULL", description="Per user: model pulls")
    rate_limit_login: str = Field("20/minute", validation_alias="ARENA_RATE_LIMIT_LOGIN", description="Per address: login attempts")
    max_streams_per_user: int = Field(
        8,
        ge=1,
        le=256,
        validation_alias="ARENA_MAX_STREAMS_PER_USER",
        description="Instance generations one user may run at once (chat, judge, benchmarks together)",
    )
    max_generations_setting: int | None = Field(
        None,
        ge=1,
        le=8192,
        validation_alias="ARENA_MAX_GENERATIONS",
        description="Instance generations the whole server runs at once; "
        "unset means MAX_CONCURRENT_REQUESTS × ARENA_MAX_INSTANCES",
    )
    # Login throttling (issue 10): waits that double, never a lock; see arena.web.auth.throttle.
    login_max_failures: int = Field(
        5,
        ge=1,
        le=1000,
        validation_alias="ARENA_LOGIN_MAX_FAILURES",
        description="Failed logins for one account from one address before each next attempt waits (1, 2, 4 … s)",
    )
    login_max_delay_seconds: int = Field(
        300,
        ge=1,
        le=24 * 3600,
        validation_alias="ARENA_LOGIN_MAX_DELAY_SECONDS",
        description="The longest wait for one account from one address, and for one address across accounts",
    )
    login_account_delay_seconds: int = Field(
        60,
        ge=1,
        le=3600,
        validation_alias="ARENA_LOGIN_ACCOUNT_DELAY_SECONDS",
        description="The longest wait for an account across addresses (never from an address it logged in from)",
    )
    # --- API tokens (issue 10) ---
    token_days: int = Field(
        90, ge=1, le=3650, validation_alias="ARENA_TOKEN_DAYS", description="How long a new API token lasts by default"
    )
    token_max_days: int = Field(
        365, ge=1, le=3650, validation_alias="ARENA_TOKEN_MAX_DAYS", description="The longest life a token may ask for"
    )

    @field_validator("rate_limit_chat", "rate_limit_judge", "rate_limit_pull", "rate_limit_login", mode="after")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == "off":
            return "off"
        try:
            parse_many(value)
        except ValueError:
            raise ValueError('expected a rate like "30/minute" or "5 per 10 seconds", or "off"') from None
        return value

    @field_validator("ollama_hosts", mode="before")
    @classmethod
    def _split_ollama_hosts(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        return [normalize_ollama_url(item) for item in items if str(item).strip()]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _check_origins(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        origins = [str(item).strip().rstrip("/") for item in items if str(item).strip()]
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
                raise ValueError(f"{origin!r} is not an origin like https://tools.example:8443")
        return origins

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        return [str(item).strip() for item in items if str(item).strip()]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        networks = []
        for item in (str(item).strip() for item in items):
            if not item:
                continue
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network like 10.0.0.0/8") from None
        return networks

    @field_validator("cloud_judges", mode="before")
    @classmethod
    def _parse_cloud_judges(cls, value: Any) -> list[CloudJudgeEndpoint]:
        return parse_cloud_judges(value)

    @field_validator("openai_endpoints", mode="before")
    @classmethod
    def _parse_openai_endpoints(cls, value: Any) -> list[OpenAIEndpoint]:
        return parse_openai_endpoints(value)

    @property
    def auth_mode(self) -> Literal["none", "token", "users"]:
        if self.auth_mode_setting is not None:
            return self.auth_mode_setting
        return "token" if self.web_chat_token is not None else "none"

    @model_validator(mode="after")
    def _token_mode_needs_token(self) -> Settings:
        if self.auth_mode_setting == "token" and self.web_chat_token is None:
            raise ValueError("ARENA_AUTH_MODE=token needs WEB_CHAT_TOKEN")
        if self.token_days > self.token_max_days:
            raise ValueError("ARENA_TOKEN_DAYS must not exceed ARENA_TOKEN_MAX_DAYS")
        return self

    @property
    def max_generations(self) -> int:
        """The server's generation budget in instance generations (v3 counted requests)."""
        if self.max_generations_setting is not None:
            return self.max_generations_setting
        return self.max_concurrent_requests * self.max_instances

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'arena.db'}"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit.key"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"


def describe_validation_error(exc: ValidationError) -> str:
    """One clear line per wrong value, naming the environment variable."""
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "settings"
        field = Settings.model_fields.get(name)
        env = field.validation_alias if field and isinstance(field.validation_alias, str) else name
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"{env}: {err['msg']}{shown}")
    return "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
