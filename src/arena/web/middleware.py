"""The ASGI middleware around every request: the reverse-proxy headers (believed only from
`ARENA_TRUSTED_PROXIES`) and the browser guard (Host allow-list, refusal of cross-site changes,
security headers on every response). The bounds on request bodies are in body_bounds.py.

Pure helpers (`parse_ip`, `forwarded_client`, `host_name`, `allowed_hosts`, `is_cross_site`)
plus thin ASGI glue; `app.py` adds the middleware.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --- what reaches (and may come from) a browser -------------------------------------------

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI starts itself with an inline script; only /docs gets that allowance.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
HSTS = "max-age=31536000"  # one year; sent only over https (browsers ignore it over http)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


# A Host header (RFC 9110 7.2): a DNS name or IPv4 address, or an IPv6 literal in brackets, then
# an optional numeric port. Nothing else: no spaces, userinfo, paths or port words.
_HOST_AND_PORT = re.compile(
    r"(?:(?P<name>[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)|\[(?P<ipv6>[0-9a-f:.]+)\])(?::(?P<port>[0-9]{1,5}))?"
)


def host_name(host_header: str) -> str:
    """`example.org:7860` → `example.org`, `[::1]:7860` → `::1`, lower-cased; a bare IPv6 address
    (a bind or peer address) as it is. Anything else, `127.0.0.1:7921 evil` or `host:http` say,
    is "", which no allow-list holds: the old split at the colon let such text through."""
    host = host_header.strip().lower()
    if host.count(":") >= 2 and not host.startswith("["):
        return host if _is_ipv6(host) else ""
    match = _HOST_AND_PORT.fullmatch(host)
    if match is None or int(match["port"] or 0) > 65535:
        return ""
    if match["ipv6"] is not None:
        return match["ipv6"] if _is_ipv6(match["ipv6"]) else ""
    return match["name"]


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: reachable from this machine only."""
    name = host_name(address)
    return name == "localhost" or name == "::1" or name.startswith("127.")


def is_wildcard(bind: str) -> bool:
    """0.0.0.0 or ::: every interface, so the address itself names no host."""
    return host_name(bind) in WILDCARD_BINDS


def allowed_hosts(*, bind: str, extra: list[str]) -> frozenset[str]:
    """Names the Host header may carry (defeats DNS rebinding): loopback, the bound address and
    ARENA_ALLOWED_HOSTS. Never "any": bound to every interface with no names, only loopback names
    pass (and `arena serve` refuses to start that way)."""
    names = {name for name in map(host_name, extra) if name}  # a malformed entry names no host
    if not is_wildcard(bind):
        names.add(host_name(bind))
    return frozenset(names | LOOPBACK_NAMES)


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def canonical_origin(origin: str) -> str:
    """`HTTPS://Box:443/` → `https://box`: an origin as browsers compare them."""
    scheme, sep, netloc = normalize_origin(origin).partition("://")
    default = DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}{sep}{netloc}"


def is_cross_site(
    *,
    method: str,
    origin: str | None,
    fetch_site: str | None,
    host: str,
    scheme: str = "http",
    trusted: frozenset[str] = frozenset(),
) -> bool:
    """A state-changing request that a page on another site made the browser send.

    Browsers send `Sec-Fetch-Site` and `Origin`; scripts and curl send neither and pass. Origins
    in `trusted` (ARENA_CORS_ORIGINS) are the user's own other front ends and pass too. The
    Origin must match this server's scheme as well as its host: `http://box` is another origin
    than `https://box` (a page served over plain http, which anyone on the path can write).
    """
    if method.upper() not in UNSAFE_METHODS:
        return False
    if origin is not None and normalize_origin(origin) in trusted:
        return False
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return True
    if origin is not None:
        return origin == "null" or canonical_origin(origin) != canonical_origin(f"{scheme}://{host}")
    return False


CROSS_SITE_REFUSED = "Cross-site request refused: the arena only takes changes from its own pages"


def cross_site_message(*, origin: str | None, host: str, scheme: str) -> str:
    """Why a change was refused. A page of https://this-host seen over plain http is, nearly
    always, a TLS proxy the arena was not told to believe: say so, or the admin is left guessing."""
    if scheme == "http" and origin is not None and canonical_origin(origin) == canonical_origin(f"https://{host}"):
        return (
            f"{CROSS_SITE_REFUSED}: this page is https but the arena was reached over http. If a reverse proxy "
            "terminates TLS in front of it, list the proxy's address in ARENA_TRUSTED_PROXIES"
        )
    return CROSS_SITE_REFUSED


# --- who is really asking, when a reverse proxy stands in front ---------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"})
HOST_PATTERN = re.compile(r"^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$", re.IGNORECASE)


def parse_ip(value: str | None) -> str | None:
    """`value` as a canonical IP address (a port or brackets dropped), or None: a header's free
    text never passes as an address."""
    if not value:
        return None
    text = host_name(value)
    if "%" in text:  # an IPv6 scope id is free text
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # one client, one key, whichever socket family it used
    return str(address)


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    parsed = ipaddress.ip_address(address)
    return any(parsed in network for network in networks)


def forwarded_client(peer: str, forwarded_for: list[str], networks: tuple[Network, ...]) -> str:
    """The client behind trusted proxy `peer`: the right-most X-Forwarded-For address that is not
    a trusted proxy (everything left of it, the client may have written). An entry that is no
    address ends the walk at the last trusted hop, since no trusted proxy wrote it."""
    client = peer
    for entry in reversed(forwarded_for):
        address = parse_ip(entry)
        if address is None:
            break
        client = address
        if not is_trusted(address, networks):
            break
    return client


def _header_values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Every comma-separated value of every `name` header, in order."""
    return [
        part.strip() for key, value in headers if key.lower() == name for part in value.decode("latin-1").split(",")
    ]


class ForwardedHeaders:
    """Replace the client address, scheme and Host with what a trusted reverse proxy forwarded
    (X-Forwarded-For/-Proto/-Host), and drop those headers from everyone else, so everything after
    (rate limits, audit, the browser guard, the Secure cookie) sees the real caller. Only the
    proxies in `trusted_proxies` are believed; with none, the socket's peer is the caller."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.networks = trusted_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        kept = [(key, value) for key, value in headers if key.lower() not in FORWARDED_HEADERS]
        client = scope.get("client")
        peer = parse_ip(client[0]) if client else None
        if peer is not None and self.networks and is_trusted(peer, self.networks):
            scope["client"] = (forwarded_client(peer, _header_values(headers, b"x-forwarded-for"), self.networks), 0)
            scheme = next(reversed(_header_values(headers, b"x-forwarded-proto")), "").lower()
            if scheme in ("http", "https"):
                secure = scheme == "https"
                scope["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" else scheme
            host = next(reversed(_header_values(headers, b"x-forwarded-host")), "")
            if HOST_PATTERN.match(host):
                kept = [(key, value) for key, value in kept if key.lower() != b"host"] + [(b"host", host.encode())]
        scope["headers"] = kept
        await self.app(scope, receive, send)


class BrowserGuard:
    """Host allow-list, refusal of cross-site state changes, and safe headers on every response."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str], trusted_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.hosts = hosts
        self.trusted_origins = trusted_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        name = host_name(host)
        if not name:
            await refuse(send, 400, f"Host header {host!r} is not a host name or address with an optional port")
            return
        if name not in self.hosts:
            await refuse(send, 400, f"Host {name!r} is not served here (set ARENA_ALLOWED_HOSTS to allow it)")
            return
        if is_cross_site(
            method=scope["method"],
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            host=host,
            scheme=scope.get("scheme", "http"),
            trusted=self.trusted_origins,
        ):
            await refuse(
                send,
                403,
                cross_site_message(origin=headers.get("origin"), host=host, scheme=scope.get("scheme", "http")),
            )
            return
        policy = DOCS_CONTENT_SECURITY_POLICY if scope["path"] == "/docs" else CONTENT_SECURITY_POLICY
        safe_headers = dict(SECURITY_HEADERS)
        if scope.get("scheme") == "https":  # over https (here, or at a trusted proxy): stay on https
            safe_headers["strict-transport-security"] = HSTS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"content-security-policy", policy.encode())] if b"content-security-policy" not in present else []
                extra += [(k.encode(), v.encode()) for k, v in safe_headers.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


async def refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
