"""Outbound requests go only where an admin pointed the server: a caller names a configured
endpoint, never a URL, and a server-held key goes only to the endpoint it was configured for.

An evaluator tries what an attacker would: their own listener as the judge's URL (to collect
the server's keys), a URL whose `#` or `?` steers the path to Ollama's /api/pull, and a
configured endpoint that has no key of its own (to borrow another provider's)."""

from __future__ import annotations

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
    """An attacker's HTTP server on loopback: records every request it receives."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
                self.send_response(401)
                self.end_headers()

            do_GET = do_POST = _record

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

    assert [(p["name"], p["provider"], p["key_in_environment"]) for p in providers] == [
        ("partner", "openai_compatible", False)
    ]
    assert "ARENA_CLOUD_KEY_PARTNER" == providers[0]["key_variable"]
