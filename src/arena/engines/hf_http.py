"""huggingface_hub's HTTP client, put under the egress policy.

huggingface_hub sends every request through one process-wide `httpx2.Client` made by a factory
it lets us replace. Ours checks each request, every redirect hop included, against the policy
before a connection opens: the hub answers a download with a redirect to its CDN, which is
followed only to an origin the policy holds (ARENA_HF_DOWNLOAD_ORIGINS). No proxy or .netrc from
the environment, and no token is ever sent (the arena pulls public repos only).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx2
from huggingface_hub.utils import set_client_factory

from arena.engines.egress import EgressPolicy

_lock = threading.Lock()
_installed: EgressPolicy | None = None


class _SyncGuardedTransport(httpx2.BaseTransport):
    def __init__(self, inner: httpx2.BaseTransport, policy: EgressPolicy) -> None:
        self._inner = inner
        self.policy = policy

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.policy.check(request.url)  # EgressRefused, before any connection
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _client(policy: EgressPolicy) -> httpx2.Client:
    transport = _SyncGuardedTransport(httpx2.HTTPTransport(), policy)
    return httpx2.Client(
        transport=transport,
        follow_redirects=True,  # each hop passes the guard again
        max_redirects=5,
        trust_env=False,
        timeout=httpx2.Timeout(30.0, connect=10.0),
    )


def install(policy: EgressPolicy) -> None:
    """Make huggingface_hub's client the guarded one for this policy (once per policy: replacing
    it closes the old client, which a download of the same policy may be using)."""
    global _installed
    with _lock:
        if _installed == policy:
            return
        set_client_factory(lambda: _client(policy))
        _installed = policy


def guarded_for(urls: list[str], policy: EgressPolicy) -> EgressPolicy:
    """The hub's own part of the settings' policy: its endpoint and the CDN origins it redirects to."""
    narrowed: set[Any] = set()
    for url in urls:
        narrowed |= policy.only(url).origins
    return EgressPolicy(frozenset(narrowed))
