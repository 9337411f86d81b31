"""The one egress policy: the origins the server may talk to, and the guard every engine's HTTP client goes through.

The origins (scheme, host, port) come from the settings only: the ``OLLAMA_HOST`` endpoints,
``ARENA_OPENAI_ENDPOINTS``, ``ARENA_CLOUD_JUDGES``, the single sign-on ``ARENA_OIDC_ISSUER`` and
the Hugging Face hub ``HF_ENDPOINT`` (with the CDN it redirects downloads to).
A caller picks a configured endpoint by name and never gives a URL; what a caller chooses (a
model name) travels in a request body.

The guard wraps the transport of each client an engine creates (httpx for Ollama and
OpenAI-compatible servers, the Anthropic SDK's own httpx), so it sees every request a library
sends, a retry included, before any connection is opened: a refusal is the same whether a port
is open or not. It also treats every redirect as an error, so no library ever follows one to
another origin (with the request's key). Each engine's guard allows only its own endpoint's
origin, which must be in the policy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx

from arena.errors import EngineError
from arena.settings import Settings

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
# After IDNA: letters, digits, hyphens and underscores (container names) in dot-separated labels.
_HOST_NAME: Final = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


class EgressRefused(EngineError):
    """The server would have sent a request outside the egress policy, or been sent elsewhere."""


class _URL(Protocol):
    """What httpx's and the SDK's URL types both offer."""

    @property
    def scheme(self) -> str: ...
    @property
    def raw_host(self) -> bytes: ...
    @property
    def port(self) -> int | None: ...


@dataclass(frozen=True, order=True)
class Origin:
    """Where a connection goes. ``host`` is lower-case IDNA (punycode) without a trailing dot,
    or an IP address in its compressed form without brackets; ``port`` is always given."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def origin_of(url: str | _URL) -> Origin:
    """The normalised origin of a URL, parsed as httpx parses it (the parser that connects), so
    a path, query, fragment or user info cannot make the check and the connection disagree."""
    try:
        parsed: _URL = httpx.URL(url) if isinstance(url, str) else url
        scheme = parsed.scheme.lower()
        host = parsed.raw_host.decode("ascii").lower()
        port = parsed.port
    except (httpx.InvalidURL, UnicodeError, TypeError) as exc:
        raise ValueError(f"not a usable URL: {exc}") from None
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"the scheme {scheme!r} is not http or https")
    host = host.removesuffix(".")  # "example.com." is the same name as "example.com"
    try:
        host = ipaddress.ip_address(host).compressed
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise ValueError(f"{host!r} is not a host name or IP address") from None
    port = DEFAULT_PORTS[scheme] if port is None else port
    if not 0 < port < 65536:
        raise ValueError(f"the port {port} is out of range")
    return Origin(scheme=scheme, host=host, port=port)


@dataclass(frozen=True)
class EgressPolicy:
    """The set of origins outbound requests may go to."""

    origins: frozenset[Origin] = frozenset()

    @classmethod
    def of_urls(cls, urls: Iterable[str]) -> EgressPolicy:
        return cls(frozenset(origin_of(url) for url in urls))

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        """Every endpoint an admin configured, and nothing else."""
        configured = [
            *(("OLLAMA_HOST", url) for url in settings.ollama_hosts),
            *(("ARENA_OPENAI_ENDPOINTS", e.base_url) for e in settings.openai_endpoints),
            *(("ARENA_CLOUD_JUDGES", e.base_url) for e in settings.cloud_judges),
            # Single sign-on: the provider's discovery document, keys and token endpoint, on its origin.
            *((("ARENA_OIDC_ISSUER", settings.oidc_issuer),) if settings.oidc_issuer else ()),
            # Hugging Face pulls: the hub, and the CDN it redirects downloads to.
            *((("HF_ENDPOINT", settings.hf_endpoint),) if settings.hf_endpoint else ()),
            *(("ARENA_HF_DOWNLOAD_ORIGINS", url) for url in settings.hf_redirect_origins),
        ]
        origins = set()
        for variable, url in configured:
            try:
                origins.add(origin_of(url))
            except ValueError as exc:
                raise ValueError(f"{variable}: {url!r}: {exc}") from None
        return cls(frozenset(origins))

    def allows(self, url: str | _URL) -> bool:
        try:
            return origin_of(url) in self.origins
        except ValueError:
            return False

    def check(self, url: str | _URL) -> None:
        """Raise EgressRefused unless the URL's origin is in the policy. The message is the same
        whatever listens there: nothing has been sent when it is decided."""
        if not self.allows(url):
            raise EgressRefused(
                "the server sends requests only to endpoints an admin configured "
                "(OLLAMA_HOST, ARENA_OPENAI_ENDPOINTS, ARENA_CLOUD_JUDGES, ARENA_OIDC_ISSUER, HF_ENDPOINT); "
                "this one is not among them"
            )

    def only(self, url: str) -> EgressPolicy:
        """The policy for one engine: its endpoint's origin if this policy holds it, else nothing
        (then every request is refused, with an EngineError like any other failure)."""
        try:
            return EgressPolicy(self.origins & {origin_of(url)})
        except ValueError:
            return EgressPolicy()

    @classmethod
    def for_engine(cls, url: str, egress: EgressPolicy | None) -> EgressPolicy:
        """An engine's guard: the settings' policy narrowed to its endpoint; an engine built on
        its own (tests, scripts) trusts its own endpoint only."""
        if egress is None:
            try:
                egress = cls.of_urls([url])
            except ValueError:  # an unusable URL: everything is refused, as EngineErrors
                egress = cls()
        return egress.only(url)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client whose every request passes the guard. No redirects, and no proxy or
        .netrc from the environment: the configured endpoints are the only source."""
        transport = GuardedTransport(httpx.AsyncHTTPTransport(), self)
        return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **kwargs)


class Guard:
    """The check around a transport; mixed into a transport class of httpx or of the SDK's httpx."""

    def __init__(self, inner: Any, policy: EgressPolicy) -> None:
        self._inner = inner
        self.policy = policy

    async def handle_async_request(self, request: Any) -> Any:
        self.policy.check(request.url)
        response = await self._inner.handle_async_request(request)
        if response.status_code in REDIRECTS:
            await response.aclose()
            raise EgressRefused(
                f"{origin_of(request.url)} answered with a redirect (HTTP {response.status_code}); "
                "the server follows none: configure the final URL instead"
            )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(Guard, httpx.AsyncBaseTransport):
    """The guard for httpx clients (Ollama, OpenAI-compatible servers)."""
