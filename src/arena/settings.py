"""One validated Settings object, read once from the environment (and `.env`), passed down."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import ByteSize, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from arena.endpoints import (
    CloudJudgeEndpoint,
    OpenAIEndpoint,
    normalize_ollama_url,
    parse_cloud_judges,
    parse_openai_endpoints,
)
from arena.hf_settings import HfSettings
from arena.oidc_settings import OidcSettings


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "local-llm-arena"


class Settings(OidcSettings, HfSettings):  # single sign-on (ARENA_OIDC_*) and hub pulls (HF_ENDPOINT) live there
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
    redis_url: SecretStr | None = Field(
        None,
        validation_alias="ARENA_REDIS_URL",
        description="redis://host:port/db shared by several server processes (rate limits, generation "
        "budget, stop signals); unset: one process keeps them in memory",
    )
    redis_namespace: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
        validation_alias="ARENA_REDIS_NAMESPACE",
        description="The deployment's name in Redis, the same on every process; unset: derived from which "
        "database DATABASE_URL names (processes that reach one database under different names must set it)",
    )
    bench_runner: Literal["server", "workers"] = Field(
        "server",
        validation_alias="ARENA_BENCH_RUNNER",
        description="Who runs the benchmarks started from the browser or API: this server process, or "
        "`arena bench worker` processes (the server only queues them)",
    )
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="ARENA_DATA_DIR")
    models_dir: Path | None = Field(None, validation_alias="ARENA_MODELS_DIR")
    embedded_enabled: bool = Field(True, validation_alias="ARENA_EMBEDDED")
    embedded_slots: int | None = Field(
        None,
        ge=1,
        le=32,
        validation_alias="ARENA_EMBEDDED_SLOTS",
        description="Answers one embedded model generates at once (one batch); unset: ARENA_MAX_INSTANCES",
    )
    embedded_batching: bool = Field(
        True,
        validation_alias="ARENA_EMBEDDED_BATCHING",
        description="One decode loop per embedded model batching its answers; 0: an object per answer",
    )
    embedded_threads: int | None = Field(None, ge=1, le=256, validation_alias="ARENA_EMBEDDED_THREADS")
    embedded_n_ctx: int = Field(
        2048, ge=256, le=131072, validation_alias="ARENA_EMBEDDED_N_CTX", description="Context of each answer, in tokens"
    )
    embedded_max_memory: ByteSize | None = Field(
        None,
        gt=0,
        validation_alias="ARENA_EMBEDDED_MAX_MEMORY",
        description='Memory for loaded embedded models ("6GiB", "500MB", bytes); unset: half the machine\'s '
        "memory (or its container's limit)",
    )
    max_instances: int = Field(8, ge=1, le=32, validation_alias="ARENA_MAX_INSTANCES")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, validation_alias="ARENA_MAX_BODY_BYTES")
    log_level: Literal["debug", "info", "warning", "error"] | None = Field(
        None,
        validation_alias="ARENA_LOG_LEVEL",
        description="Show the arena's log (llama.cpp's own lines at debug) on stderr from this level; "
        "unset: warnings only",
    )
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
    rate_limit_render: str = Field(
        "120/minute", validation_alias="ARENA_RATE_LIMIT_RENDER", description="Per user: POST /api/render (once per finished answer)"
    )
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
    queue_timeout_s: float = Field(
        30.0,
        ge=0,
        le=290,
        validation_alias="ARENA_QUEUE_TIMEOUT_S",
        description="Seconds a request past ARENA_MAX_GENERATIONS waits in the fair queue before 503 "
        "(0: refuse at once). Keep it below the reverse proxy's read timeout (nginx proxy_read_timeout, "
        "360 s in deploy/nginx/arena.conf), or the proxy cuts a waiting request off first",
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

    # --- operations: logs and abuse alerts (issue 13); each alert fires once per its window ---
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias="ARENA_LOG_FORMAT", description="text, or json: one JSON object per log line"
    )
    alert_login_failures: str = Field(
        "10/5minutes",
        validation_alias="ARENA_ALERT_LOGIN_FAILURES",
        description="Failed logins for one account, or from one address, that raise abuse.login_burst",
    )
    alert_exports: str = Field(
        "100/hour", validation_alias="ARENA_ALERT_EXPORTS", description="Exports by one user that raise abuse.export_burst"
    )
    alert_pulls: str = Field(
        "20/hour", validation_alias="ARENA_ALERT_PULLS", description="Model pulls by one user that raise abuse.pull_burst"
    )
    alert_rate_limited: str = Field(
        "20/10minutes",
        validation_alias="ARENA_ALERT_RATE_LIMITED",
        description="429 answers to one caller that raise abuse.rate_limited",
    )

    @field_validator(
        "rate_limit_chat", "rate_limit_judge", "rate_limit_pull", "rate_limit_login", "rate_limit_render",
        "alert_login_failures", "alert_exports", "alert_pulls", "alert_rate_limited",
        mode="after",
    )
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

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: Any) -> Any:
        return (value.strip().lower() or None) if isinstance(value, str) else value

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

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: Any) -> Any:
        """Empty is unset (an empty line in an env file); anything else must be a Redis URL, so a
        typo stops start-up with one line instead of workers failing over and over."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
                raise ValueError("must be a URL like redis://host:6379/0 (or rediss://, unix://)")
        return value

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
