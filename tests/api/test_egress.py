"""Outbound requests go only where an admin pointed the server: a caller names a configured
endpoint, never a URL, and a server-held key goes only to the endpoint it was configured for.

An evaluator tries what an attacker would: their own listener as the judge's URL (to collect
the server's keys), a URL whose `#` or `?` steers the path to Ollama's /api/pull, and a
configured endpoint that has no key of its own (to borrow another provider's)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.accounts import login
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

SERVER_OPENAI_KEY = "sk-server-openai-0b1c2d3e-must-not-leave"
SERVER_ANTHROPIC_KEY = "sk-ant-server-4f5a6b7c-must-not-leave"
RAW = {"prompt": "2+2?", "answers": [{"key": "a", "text": "4"}, {"key": "b", "text": "5"}], "allow_cloud": True}


class Listener:
    """An attacker's HTTP server on loopback: records every request it receives, and answers
    401, or a 307 to `redirect_to` (plus the path) when given."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
                if redirect_to is None:
                    self.send_response(401)
                else:
                    self.send_response(307)
                    self.send_header("Location", redirect_to + self.path)
                self.end_headers()

            do_GET = do_POST = do_DELETE = _record

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def everything_received(self) -> str:
        return repr(self.seen)


@pytest.fixture
def listener() -> Iterator[Listener]:
    listening = Listener()
    try:
        yield listening
    finally:
        listening.server.shutdown()


@pytest.fixture
def arena(
    monkeypatch: pytest.MonkeyPatch, listener: Listener, double: OllamaDouble, arena_factory: ArenaFactory
) -> RunningArena:
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SERVER_ANTHROPIC_KEY)
    monkeypatch.delenv("ARENA_CLOUD_KEY_PARTNER", raising=False)
    # The admin configured one cloud judge, with no key on the server; the listener is a
    # host the admin trusts with the questions, not with the server's other keys.
    partner = {"name": "partner", "provider": "openai_compatible", "base_url": f"{listener.url}/v1"}
    return arena_factory(accounts=True, embedded_enabled=False, ollama_hosts=[double.url], cloud_judges=[partner])



def judge(arena: RunningArena, cloud: dict[str, Any]) -> Any:
    with login(arena, "eve") as eve:
        return eve.request("POST", "/api/judge", json=RAW | {"mode": "pairwise", "cloud": cloud})


@pytest.mark.parametrize(
    "cloud",
    [
        pytest.param({"provider": "openai_compatible", "model": "m", "base_url": "{listener}/v1"}, id="own-url"),
        pytest.param({"provider": "anthropic", "model": "m", "base_url": "{listener}"}, id="own-url-anthropic"),
        pytest.param({"endpoint": "partner", "model": "m", "base_url": "{double}/api/pull#"}, id="pull-fragment"),
        pytest.param({"endpoint": "partner", "model": "m", "base_url": "{double}/api/pull?"}, id="pull-query"),
        pytest.param({"endpoint": "{listener}/v1", "model": "m"}, id="url-as-name"),
        pytest.param({"endpoint": "elsewhere", "model": "m"}, id="unconfigured-name"),
        pytest.param({"provider": "anthropic", "model": "m"}, id="provider-not-configured"),
    ],
)
def test_a_caller_cannot_send_the_judge_anywhere_but_a_configured_endpoint(
    arena: RunningArena, listener: Listener, double: OllamaDouble, cloud: dict[str, Any]
) -> None:
    spec = {k: v.format(listener=listener.url, double=double.url) for k, v in cloud.items()}
    response = judge(arena, spec)

    assert 400 <= response.status_code < 500, response.text
    assert isinstance(response.json()["error"], str)
    assert listener.seen == []
    assert not [r for r in double.requests if r.path.startswith("/api/pull")]
    assert SERVER_OPENAI_KEY not in response.text and SERVER_ANTHROPIC_KEY not in response.text


def test_a_server_key_never_goes_to_an_endpoint_it_was_not_configured_for(
    arena: RunningArena, listener: Listener
) -> None:
    response = judge(arena, {"endpoint": "partner", "model": "m"})

    assert response.status_code == 400
    assert "ARENA_CLOUD_KEY_PARTNER" in response.json()["error"]
    assert listener.seen == []  # not sent with OPENAI_API_KEY instead


def test_a_callers_own_key_goes_to_the_configured_endpoint_and_only_its_path(
    arena: RunningArena, listener: Listener, double: OllamaDouble
) -> None:
    response = judge(arena, {"endpoint": "partner", "model": "../../api/pull#", "api_key": "sk-callers-own"})

    assert response.status_code == 400 and "refused the API key" in response.json()["error"]
    assert {r["path"] for r in listener.seen} == {"/v1/chat/completions"}
    assert {r["headers"].get("Authorization") for r in listener.seen} == {"Bearer sk-callers-own"}
    assert SERVER_OPENAI_KEY not in listener.everything_received()
    assert SERVER_ANTHROPIC_KEY not in listener.everything_received()
    assert not [r for r in double.requests if r.path.startswith("/api/pull")]


def test_the_judge_lists_only_configured_endpoints_and_never_their_keys(arena: RunningArena) -> None:
    with login(arena, "eve") as eve:
        providers = eve.request("GET", "/api/judge/cloud").json()["providers"]
    with login(arena, "ada") as ada:
        seen_by_admin = ada.request("GET", "/api/judge/cloud").json()["providers"]

    # Whether the server holds a key is the admin's business only.
    assert [(p["name"], p["provider"], p["key_in_environment"]) for p in providers] == [
        ("partner", "openai_compatible", None)
    ]
    assert [p["key_in_environment"] for p in seen_by_admin] == [False]
    assert "ARENA_CLOUD_KEY_PARTNER" == providers[0]["key_variable"]


# -- the egress policy, end to end: what leaves the server, whatever a caller sends --------------


class Connections(list):
    """Every TCP connection an asyncio loop in this process opens (the arena's engines run on
    the server's loop; the test's own client is synchronous, the doubles only listen)."""

    def ports(self) -> set[int]:
        return {port for _host, port in self}


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    opened = Connections()
    original = asyncio.base_events.BaseEventLoop.create_connection

    async def recording(self: asyncio.AbstractEventLoop, protocol_factory: Any, host: Any = None, port: Any = None,
                        *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        opened.append((host, port))
        return await original(self, protocol_factory, host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", recording)
    return opened


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_by_default_no_cloud_judge_is_on_and_none_can_be_used(
    monkeypatch: pytest.MonkeyPatch, double: OllamaDouble, arena_factory: ArenaFactory, connections: Connections
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SERVER_ANTHROPIC_KEY)
    monkeypatch.delenv("ARENA_CLOUD_JUDGES", raising=False)
    arena = arena_factory(accounts=True, embedded_enabled=False, ollama_hosts=[double.url])

    with login(arena, "ada") as ada:
        listed = ada.request("GET", "/api/judge/cloud").json()["providers"]
        answers = [
            ada.request("POST", "/api/judge", json=RAW | {"mode": "pairwise", "cloud": cloud})
            for cloud in (
                {"provider": "openai_compatible", "model": "gpt-4o"},
                {"provider": "anthropic", "model": "claude-x"},
                {"endpoint": "openai", "model": "gpt-4o"},
                {"endpoint": "anthropic", "model": "claude-x"},
            )
        ]

    assert listed == []
    assert [r.status_code for r in answers] == [400] * 4
    assert all("no cloud judge" in r.json()["error"] and "configured" in r.json()["error"] for r in answers)
    assert connections.ports() <= {port_of(double.url)}  # the public APIs were never tried


@pytest.fixture
def stranger() -> Iterator[Listener]:
    """A host nobody configured: nothing may ever reach it."""
    listening = Listener()
    try:
        yield listening
    finally:
        listening.server.shutdown()


@pytest.fixture
def redirector(stranger: Listener) -> Iterator[Listener]:
    """A configured endpoint that answers every request with a 307 to the stranger."""
    listening = Listener(redirect_to=stranger.url)
    try:
        yield listening
    finally:
        listening.server.shutdown()


@pytest.fixture
def wide_arena(
    monkeypatch: pytest.MonkeyPatch,
    listener: Listener,
    redirector: Listener,
    double: OllamaDouble,
    arena_factory: ArenaFactory,
) -> RunningArena:
    """Every kind of endpoint configured: Ollama (the double), an OpenAI-compatible server and
    cloud judges of both providers (the listener), and ones that redirect (the redirector)."""
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SERVER_ANTHROPIC_KEY)
    for name in ("PARTNER", "CLAUDE", "HOP", "BOUNCE"):
        monkeypatch.setenv(f"ARENA_CLOUD_KEY_{name}", f"sk-{name.lower()}-configured")
    judges = [
        {"name": "partner", "provider": "openai_compatible", "base_url": f"{listener.url}/v1"},
        {"name": "claude", "provider": "anthropic", "base_url": listener.url},
        {"name": "hop", "provider": "anthropic", "base_url": redirector.url},
        {"name": "bounce", "provider": "openai_compatible", "base_url": f"{redirector.url}/v1"},
    ]
    endpoints = [
        {"name": "vllm", "base_url": f"{listener.url}/v1"},
        {"name": "moved", "base_url": f"{redirector.url}/v1"},
    ]
    return arena_factory(
        accounts=True,
        embedded_enabled=False,
        ollama_hosts=[double.url],
        openai_endpoints=endpoints,
        cloud_judges=judges,
        rate_limit_chat="off",
        rate_limit_judge="off",
        rate_limit_pull="off",
    )


ODD_MODELS = [
    "ollama:http://x/",
    "ollama:{stranger}/api/pull",
    "{stranger}",
    "openai:evil/../m",
    "openai:{stranger}/v1/m",
    "openai:vllm/../../../api/pull#",
    "openai:vllm/{stranger}/v1/chat/completions",
    "openai:moved/m",
    "openai:vllm/m?x=1#frag",
    "local:../../{stranger}",
]
CLOUD_SPECS = [
    {"endpoint": "partner", "model": "m"},
    {"endpoint": "partner", "model": "../../api/pull#", "api_key": "sk-callers-own"},
    {"endpoint": "claude", "model": "{stranger}/v1/messages"},
    {"endpoint": "hop", "model": "m"},
    {"endpoint": "hop", "model": "m", "api_key": "sk-callers-own"},
    {"endpoint": "bounce", "model": "m"},
    {"provider": "anthropic", "model": "m"},
    {"provider": "openai_compatible", "model": "m"},
    {"endpoint": "{stranger}", "model": "m"},
    {"endpoint": "stranger", "model": "m"},
    {"endpoint": "partner", "model": "m", "base_url": "{stranger}"},
    {"provider": "anthropic", "model": "m", "base_url": "{stranger}/v1"},
]


def test_no_request_leaves_for_a_host_that_is_not_configured_whatever_a_caller_sends(
    wide_arena: RunningArena,
    listener: Listener,
    redirector: Listener,
    stranger: Listener,
    double: OllamaDouble,
    connections: Connections,
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value.format(stranger=stranger.url) if isinstance(value, str) else value

    statuses: list[tuple[str, int]] = []
    with login(wide_arena, "ada") as ada:

        def call(method: str, path: str, **kwargs: Any) -> None:
            response = ada.request(method, path, **kwargs)
            statuses.append((f"{method} {path} {kwargs.get('json')}", response.status_code))

        call("GET", "/api/models")
        call("GET", "/api/health")
        call("GET", "/api/judge/cloud")
        for spec in CLOUD_SPECS:
            call("POST", "/api/judge", json=RAW | {"mode": "pairwise", "cloud": fill(spec)})
        for model in map(fill, ODD_MODELS):
            call("POST", "/api/judge", json=RAW | {"mode": "pairwise", "judge_model": model})
            call("POST", "/api/chat", json={"message": "hi", "models": [model]})
            call("POST", "/api/stream_chat", json={"message": "hi", "model_instances": [{"model": model}]})
            call("POST", "/api/pull_model", json={"model": model})
            call("POST", "/api/delete_model", json={"model": model})
            call("DELETE", "/api/models/" + model)
        for name in ("http://127.0.0.1:1/x", "../../api/delete", "llama3.2:1b?insecure=true#", stranger.url):
            call("POST", "/api/models/pull", json={"name": name})
            call("POST", "/api/delete_model", json={"name": name})

    assert not [(what, status) for what, status in statuses if status == 500]
    configured = {port_of(double.url), port_of(listener.url), port_of(redirector.url)}
    assert connections.ports() <= configured, connections
    assert stranger.seen == [], stranger.everything_received()
    # The calls did reach every configured endpoint: the check above saw real traffic.
    assert {port_of(listener.url), port_of(redirector.url), port_of(double.url)} <= connections.ports()
    assert listener.seen and redirector.seen and double.requests
    # A caller's model name travels in a body; the paths are the engines' own.
    assert {r["path"] for r in listener.seen} <= {"/v1/chat/completions", "/v1/models", "/v1/messages"}
    assert {r.path for r in double.requests} <= {"/api/tags", "/api/version", "/api/chat", "/api/pull", "/api/delete"}
    assert SERVER_OPENAI_KEY not in listener.everything_received() + redirector.everything_received()
    assert SERVER_ANTHROPIC_KEY not in listener.everything_received() + redirector.everything_received()


def test_a_redirect_from_a_configured_cloud_judge_is_not_followed(
    wide_arena: RunningArena, redirector: Listener, stranger: Listener
) -> None:
    with login(wide_arena, "eve") as eve:
        answers = [
            eve.request("POST", "/api/judge", json=RAW | {"mode": "pairwise", "cloud": {"endpoint": hop, "model": "m"}})
            for hop in ("hop", "bounce")
        ]

    assert stranger.seen == [], stranger.everything_received()  # not with the key, not at all
    assert redirector.seen
    for answer in answers:
        assert answer.status_code == 502, answer.text
        assert "redirect" in answer.json()["error"] and stranger.url not in answer.json()["error"]
