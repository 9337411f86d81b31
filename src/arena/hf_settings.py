"""Where `arena pull hf:…` downloads from, grouped: `Settings` inherits them.

``HF_ENDPOINT`` is the Hugging Face hub (or a mirror) and goes into the egress policy like any
configured endpoint; ``off`` turns hub pulls off. The hub answers a file download with a
redirect to its storage CDN, so those origins are in the policy too
(``ARENA_HF_DOWNLOAD_ORIGINS``; by default huggingface.co's own, none for another endpoint).
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

HF_DEFAULT_ENDPOINT: Final = "https://huggingface.co"
# Where huggingface.co redirects a file download (LFS and Xet-backed files, fetched over plain HTTPS).
HF_DEFAULT_DOWNLOAD_ORIGINS: Final = (
    "https://cas-bridge.xethub.hf.co",
    "https://cdn-lfs.hf.co",
    "https://cdn-lfs-us-1.hf.co",
    "https://cdn-lfs-eu-1.hf.co",
    "https://cdn-lfs.huggingface.co",
    "https://cdn-lfs-us-1.huggingface.co",
)


def _http_url(value: str, *, what: str) -> str:
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{what}: {value!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ValueError(f"{what} must not carry a user name or password")
    return url


class HfSettings(BaseSettings):
    hf_endpoint: str | None = Field(
        HF_DEFAULT_ENDPOINT,
        validation_alias="HF_ENDPOINT",
        description="The Hugging Face hub (or a mirror) that `hf:<org>/<repo>` pulls come from; off: no hub pulls",
    )
    hf_download_origins: Annotated[list[str] | None, NoDecode] = Field(
        None,
        validation_alias="ARENA_HF_DOWNLOAD_ORIGINS",
        description="Comma-separated origins the hub may redirect a download to (its CDN); "
        "unset: huggingface.co's own for the default hub, none for another",
    )

    @field_validator("hf_endpoint", mode="before")
    @classmethod
    def _hub(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() in ("", "off", "none"):
                return None
            return _http_url(value, what="HF_ENDPOINT")
        return value

    @field_validator("hf_download_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if value is None:
            return None
        items = value.split(",") if isinstance(value, str) else list(value)
        return [_http_url(str(item), what="ARENA_HF_DOWNLOAD_ORIGINS") for item in items if str(item).strip()]

    @property
    def hf_redirect_origins(self) -> list[str]:
        """The origins a hub download may be redirected to (empty with hub pulls off)."""
        if self.hf_endpoint is None:
            return []
        if self.hf_download_origins is not None:
            return list(self.hf_download_origins)
        return list(HF_DEFAULT_DOWNLOAD_ORIGINS) if self.hf_endpoint == HF_DEFAULT_ENDPOINT else []
