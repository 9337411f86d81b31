"""The egress policy: how origins are normalised, what the guard lets through, and that no engine
follows a redirect or lets a caller's model name pick the path.

The servers here are real (loopback HTTP servers in threads); a "stranger" is a host nobody
configured, and every test ends by checking it received nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from arena.engines.anthropic import AnthropicEngine
from arena.engines.base import GenerationRequest, Message
from arena.engines.egress import EgressPolicy, EgressRefused, Origin, origin_of
from arena.engines.ollama import OllamaEngine
from arena.engines.openai import OpenAIEngine
from arena.settings import Settings
from tests.support.doubles.ollama import OllamaDouble

pytestmark = pytest.mark.anyio

KEY = "sk-egress-test-0123456789"


class Server:
    """A loopback HTTP server that records every request and answers `status` (with a Location
    of `redirect_to` plus the path, when given)."""

    def __init__(self, *, status: int = 401, redirect_to: str | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
                self.send_response(status)
                if redirect_to is not None:
                    self.send_header("Location", redirect_to + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stranger() -> Iterator[Server]:
    server = Server(status=200)
    try:
        yield server
    finally:
        server.server.shutdown()


@pytest.fixture
def redirector(stranger: Server) -> Iterator[Server]:
    server = Server(status=307, redirect_to=stranger.url)
    try:
        yield server
    finally:
        server.server.shutdown()


def ask(model: str = "m") -> GenerationRequest:
    return GenerationRequest(model=model, messages=[Message(role="user", content="hi")])


# -- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Example.COM/v1", Origin("http", "example.com", 80)),
        ("HTTPS://API.Example.com.:443/v1/", Origin("https", "api.example.com", 443)),  # case, trailing dot
        ("http://example.com:80", Origin("http", "example.com", 80)),  # default ports
        ("https://example.com", Origin("https", "example.com", 443)),
        ("http://example.com:0080/", Origin("http", "example.com", 80)),
        ("http://example.com:443", Origin("http", "example.com", 443)),  # not https
        ("http://[0:0::1]:11434/api", Origin("http", "::1", 11434)),  # IPv6, compressed
        ("http://[::FFFF:7F00:1]/", Origin("http", "::ffff:7f00:1", 80)),
        ("http://bücher.example/", Origin("http", "xn--bcher-kva.example", 80)),  # IDNA
        ("http://BÜCHER.example./", Origin("http", "xn--bcher-kva.example", 80)),
        ("http://127.0.0.1:11434#@evil.example/", Origin("http", "127.0.0.1", 11434)),  # fragment
        ("http://127.0.0.1:11434?@evil.example/", Origin("http", "127.0.0.1", 11434)),  # query
        ("http://evil.example@127.0.0.1:11434/", Origin("http", "127.0.0.1", 11434)),  # user info
        ("http://127.0.0.1:11434@evil.example/", Origin("http", "evil.example", 80)),
        ("http://user:pw@127.0.0.1:11434/%2e%2e/api/pull", Origin("http", "127.0.0.1", 11434)),  # %2e%2e path
        ("http://evil.example\\@127.0.0.1/", Origin("http", "127.0.0.1", 80)),  # parsed as httpx connects
    ],
)
def test_an_origin_is_normalised(url: str, origin: Origin) -> None:
    assert origin_of(url) == origin
    assert origin_of(httpx.URL(url)) == origin  # the guard's view of the same request


def test_an_origin_prints_with_brackets_and_its_port() -> None:
    assert str(origin_of("http://[::1]/x")) == "http://[::1]:80"
    assert str(origin_of("https://Example.com")) == "https://example.com:443"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "http:///path-only",
        "http://example.com:0/",
        "http://example.com:65536/",
        "http://%65vil.example/",  # percent-encoding in a host
        "http://127.0.0.1%2e/",
        "http://exa mple.com/",
        "javascript:alert(1)",
        "",
    ],
)
def test_what_is_not_an_http_origin_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        origin_of(url)
    assert not EgressPolicy.of_urls(["http://example.com"]).allows(url)


POLICY = EgressPolicy.of_urls(["http://127.0.0.1:11434", "https://api.example.com/v1", "http://[::1]:8080/v1"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/api/pull",
        "HTTP://127.0.0.1:11434/%2e%2e/%2e%2e/anything",
        "https://API.EXAMPLE.COM./v1/models",
        "https://api.example.com:443/other/path?q#f",
        "http://[0::1]:8080/v1/chat/completions",
    ],
)
def test_the_policy_allows_its_origins_whatever_the_path(url: str) -> None:
    assert POLICY.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11435/",  # another port
        "https://127.0.0.1:11434/",  # another scheme
        "http://localhost:11434/",  # another name for the same host is another origin
        "http://127.1:11434/",
        "http://[::ffff:127.0.0.1]:11434/",
        "http://api.example.com/v1",  # http, not https
        "https://api.example.com:8443/v1",
        "https://api.example.com.evil.example/v1",
        "https://evil.example/#https://api.example.com",
        "https://api.example.com@evil.example/",
        "https://evil.example/?https://api.example.com",
        "http://[::1]:11434/",
    ],
)
def test_the_policy_refuses_every_other_origin(url: str) -> None:
    assert not POLICY.allows(url)
    with pytest.raises(EgressRefused):
        POLICY.check(url)


def test_the_policy_is_built_from_the_configured_endpoints_only() -> None:
    settings = Settings(
        _env_file=None,
        ollama_hosts=["gpu-box", "http://127.0.0.1:11434"],
        openai_endpoints=[{"name": "vllm", "base_url": "http://10.0.0.5:8000/v1"}],
        cloud_judges="anthropic,partner=openai_compatible@https://llm.partner.example/v1",
        hf_endpoint="https://hf-mirror.example/",  # a mirror serves its files itself: no CDN origins
    )
    assert EgressPolicy.from_settings(settings).origins == {
        Origin("http", "gpu-box", 11434),
        Origin("http", "127.0.0.1", 11434),
        Origin("http", "10.0.0.5", 8000),
        Origin("https", "api.anthropic.com", 443),
        Origin("https", "llm.partner.example", 443),
        Origin("https", "hf-mirror.example", 443),
    }


def test_by_default_the_policy_holds_the_local_ollama_and_the_hub_and_no_cloud_api(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OLLAMA_HOST", "ARENA_OPENAI_ENDPOINTS", "ARENA_CLOUD_JUDGES", "HF_ENDPOINT", "ARENA_HF_DOWNLOAD_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    origins = EgressPolicy.from_settings(Settings(_env_file=None)).origins
    hub = {o for o in origins if o.host == "huggingface.co" or o.host.endswith(".hf.co") or o.host.endswith(".huggingface.co")}
    assert origins - hub == {Origin("http", "127.0.0.1", 11434)}
    assert Origin("https", "huggingface.co", 443) in hub, "hf: pulls: the hub, and the CDN its downloads redirect to"
    assert all(o.scheme == "https" for o in hub)

    monkeypatch.setenv("HF_ENDPOINT", "off")
    assert EgressPolicy.from_settings(Settings(_env_file=None)).origins == {Origin("http", "127.0.0.1", 11434)}


@pytest.mark.parametrize(
    ("raw", "judges"),
    [
        (None, []),
        ("", []),
        ("none", []),
        ("openai,anthropic", [("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
                              ("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY")]),
        ("anthropic, mine=openai_compatible@http://10.0.0.9:8000/v1/",
         [("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
          ("mine", "http://10.0.0.9:8000/v1", "ARENA_CLOUD_KEY_MINE")]),
        ('["openai", {"name": "p", "provider": "anthropic", "base_url": "https://p.example", "api_key_env": "P_KEY"}]',
         [("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"), ("p", "https://p.example", "P_KEY")]),
    ],
)  # fmt: skip
def test_cloud_judges_are_off_unless_an_admin_names_them(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, judges: list[tuple[str, str, str]]
) -> None:
    if raw is None:
        monkeypatch.delenv("ARENA_CLOUD_JUDGES", raising=False)
    else:
        monkeypatch.setenv("ARENA_CLOUD_JUDGES", raw)
    assert [(j.name, j.base_url, j.api_key_env) for j in Settings(_env_file=None).cloud_judges] == judges


@pytest.mark.parametrize("raw", ["gemini", "openai,openai", "x=anthropic", "[5]", "x=anthropic@ftp://h"])
def test_a_wrong_cloud_judge_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ARENA_CLOUD_JUDGES", raw)
    with pytest.raises(ValidationError, match="ARENA_CLOUD_JUDGES"):
        Settings(_env_file=None)


def test_narrowing_keeps_only_an_origin_the_policy_holds() -> None:
    assert POLICY.only("http://127.0.0.1:11434/api").origins == {Origin("http", "127.0.0.1", 11434)}
    assert POLICY.only("http://127.0.0.1:9/").origins == frozenset()
    assert POLICY.only("not a url").origins == frozenset()


# -- the guard -----------------------------------------------------------------------------------


async def test_the_guard_refuses_before_connecting_and_says_nothing_about_the_port(stranger: Server) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    async with EgressPolicy.of_urls(["http://127.0.0.1:1"]).client() as client:
        with pytest.raises(EgressRefused) as to_open:
            await client.post(stranger.url + "/api/pull", json={"model": "x"})
        with pytest.raises(EgressRefused) as to_closed:
            await client.get(closed)

    assert stranger.seen == []
    assert str(to_open.value) == str(to_closed.value)
    assert "127.0.0.1" not in str(to_open.value)


async def test_an_engines_client_reaches_its_own_endpoint_only(double: OllamaDouble, stranger: Server) -> None:
    both = EgressPolicy.of_urls([double.url, stranger.url])  # both configured, for two engines
    engine = OllamaEngine(base_url=double.url, egress=both)
    try:
        assert await engine.list_models()
        with pytest.raises(EgressRefused):
            await engine._client.get(stranger.url + "/api/tags")
    finally:
        await engine.aclose()
    assert stranger.seen == []


async def test_an_engine_whose_endpoint_is_not_in_the_policy_sends_nothing(double: OllamaDouble) -> None:
    engine = OllamaEngine(base_url=double.url, egress=EgressPolicy.of_urls(["http://127.0.0.1:1"]))
    try:
        with pytest.raises(EgressRefused):
            await engine.list_models()
        assert (await engine.health()).reachable is False
    finally:
        await engine.aclose()
    assert double.requests == []


# -- redirects are never followed ----------------------------------------------------------------


async def test_the_anthropic_sdk_does_not_follow_a_redirect_with_the_key(redirector: Server, stranger: Server) -> None:
    engine = AnthropicEngine(api_key=KEY, base_url=redirector.url, timeout=5.0, max_retries=0)
    try:
        with pytest.raises(EgressRefused, match="redirect"):
            async for _ in engine.stream(ask("claude-x")):
                pass
        with pytest.raises(EgressRefused, match="redirect"):
            await engine.list_models()
    finally:
        await engine.aclose()
    assert [r["path"] for r in redirector.seen] == ["/v1/messages", "/v1/models?limit=100"]
    assert stranger.seen == []


async def test_an_openai_compatible_endpoint_does_not_redirect_us(redirector: Server, stranger: Server) -> None:
    engine = OpenAIEngine(name="moved", base_url=redirector.url + "/v1", api_key=KEY, timeout=5.0)
    try:
        with pytest.raises(EgressRefused, match="redirect"):
            async for _ in engine.stream(ask()):
                pass
        with pytest.raises(EgressRefused, match="redirect"):
            await engine.list_models()
    finally:
        await engine.aclose()
    assert stranger.seen == []


async def test_ollama_does_not_redirect_us(redirector: Server, stranger: Server) -> None:
    engine = OllamaEngine(base_url=redirector.url, timeout=5.0)
    try:
        with pytest.raises(EgressRefused, match="redirect"):
            await engine.show("m")
        with pytest.raises(EgressRefused, match="redirect"):
            async for _ in engine.pull("m"):
                pass
    finally:
        await engine.aclose()
    assert stranger.seen == []


# -- a caller's model name goes in a body, never in the URL ----------------------------------------

URL_LIKE_NAMES = ["http://127.0.0.1:1/x", "../../api/pull", "m#frag", "m?insecure=true", "%2e%2e/api/delete", "a/../b"]


@pytest.mark.parametrize("name", URL_LIKE_NAMES)
async def test_ollama_puts_a_model_name_in_the_body_only(double: OllamaDouble, name: str) -> None:
    engine = OllamaEngine(base_url=double.url, timeout=5.0)
    try:
        for call in (engine.show(name), engine.delete(name)):
            try:
                await call
            except Exception:  # the double knows no such model: only the request matters here
                pass
        try:
            async for _ in engine.pull(name):
                pass
        except Exception:
            pass
    finally:
        await engine.aclose()
    assert [r.path for r in double.requests] == ["/api/show", "/api/delete", "/api/pull"]
    assert [r.body["model"] for r in double.requests] == [name] * 3


@pytest.mark.parametrize("name", URL_LIKE_NAMES)
async def test_an_openai_compatible_engine_puts_a_model_name_in_the_body_only(name: str) -> None:
    server = Server(status=401)
    engine = OpenAIEngine(name="vllm", base_url=server.url + "/v1", api_key=KEY, timeout=5.0)
    try:
        with pytest.raises(Exception):  # noqa: B017 - 401: only the request matters here
            async for _ in engine.stream(ask(name)):
                pass
        await engine.health()
    finally:
        await engine.aclose()
        server.server.shutdown()
    assert [r["path"] for r in server.seen] == ["/v1/chat/completions", "/v1/models"]
    assert json.loads(server.seen[0]["body"])["model"] == name
