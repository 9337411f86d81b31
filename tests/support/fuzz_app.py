"""The real arena app, set up for fuzzing its OpenAPI schema in process (ASGI).

Engines: the embedded one is off (no real generation) and the only Ollama host is the
`OllamaDouble`, a real HTTP server on loopback that answers at once. So chat, judge, pull,
delete and benchmarks run for real, through the real `OllamaEngine`, without a model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import schemathesis
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount

from arena.settings import Settings
from arena.web.app import create_app
from tests.support.doubles.ollama import DoubleModel, OllamaDouble, ollama_double
from tests.support.server import make_settings

# Names the double serves, and one it can pull.
INSTALLED = ("ollama:llama3.2:1b", "ollama:qwen2.5:0.5b")
PULLABLE = DoubleModel(name="tinyllama:1.1b")
# schemathesis's in-process client sends `Host: testserver`.
TEST_HOST = "testserver"
# A port nothing listens on: a cloud judge "reaches" it and fails at once, nothing leaves the machine.
CLOSED_URL = "http://127.0.0.1:9/v1"
# Mounted file trees and the documentation, which have no operations of their own.
# Served but not API operations: files, the docs themselves, single sign-on's browser redirects
# (a browser follows them to and from the provider; no API client calls them), and the gateway's
# answer to OpenAI endpoints it does not serve.
UNDOCUMENTED = {
    "/static", "/docs-assets", "/docs", "/openapi.json", "/auth/oidc/login", "/auth/oidc/callback", "/v1/{endpoint}",
}  # fmt: skip


@dataclass
class Seeds:
    """Rows that exist before the fuzz starts, so some generated ids hit real records."""

    conversation_ids: list[str] = field(default_factory=list)
    disposable_ids: list[str] = field(default_factory=list)  # for DELETE, so the others stay
    turn_ids: list[int] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


@dataclass
class FuzzArena:
    app: FastAPI
    settings: Settings
    double: OllamaDouble


@contextmanager
def fuzz_arena(data_dir: Path) -> Iterator[FuzzArena]:
    """The app with a fresh SQLite database in `data_dir` and the double as its only engine."""
    with ollama_double(library=[PULLABLE]) as double:
        settings = make_settings(
            data_dir,
            embedded_enabled=False,
            ollama_hosts=[double.url],
            # The only places a cloud judge may go: the server refuses any other, whatever the fuzz sends.
            cloud_judges=[
                {"name": "openai", "provider": "openai_compatible", "base_url": CLOSED_URL},
                {"name": "anthropic", "provider": "anthropic", "base_url": CLOSED_URL.removesuffix("/v1")},
            ],
            allowed_hosts=[TEST_HOST],
            request_timeout=10,
            # The fuzz sends hundreds of chats: with the limits on, most would only meet a 429.
            rate_limit_chat="off",
            rate_limit_judge="off",
            rate_limit_pull="off",
            rate_limit_render="off",
        )
        yield FuzzArena(app=create_app(settings), settings=settings, double=double)


def seed(schema: Any) -> Seeds:
    """Create conversations (open and blind, each with an answered turn) and a benchmark run,
    through the API itself."""
    seeds = Seeds()
    instances = [{"model": model} for model in INSTALLED]
    for blind in (False, True, False):
        created = _call(schema, "POST", "/api/conversations", body={"model_instances": instances, "blind": blind})
        conversation_id = created.json()["id"]
        answered = _call(schema, "POST", "/api/chat", body={"conversation_id": conversation_id, "message": "Why?"})
        seeds.conversation_ids.append(conversation_id)
        seeds.turn_ids.append(_turn_id(schema, conversation_id))
        assert answered.status_code == 200, answered.text
    for _ in range(2):
        created = _call(schema, "POST", "/api/conversations", body={"model_instances": instances})
        seeds.disposable_ids.append(created.json()["id"])
    body, content_type = _multipart(
        prompts=("prompts.txt", "What is 2+2?\nName a colour.\n"), config=json.dumps({"instances": instances})
    )
    run = _call(
        schema, "POST", "/api/bench/runs", body=body, media_type="multipart/form-data", headers={"Content-Type": content_type}
    )
    assert run.status_code == 201, run.text
    seeds.run_ids.append(run.json()["id"])
    return seeds


def _turn_id(schema: Any, conversation_id: str) -> int:
    detail = _call(schema, "GET", "/api/conversations/{conversation_id}", path_parameters={"conversation_id": conversation_id})
    return detail.json()["turns"][-1]["id"]


def _multipart(**fields: str | tuple[str, str]) -> tuple[bytes, str]:
    """A multipart body by hand: the prompt set needs a file name, which generated parts lack."""
    boundary = "arena-fuzz-seed"
    parts = []
    for name, value in fields.items():
        filename, text = value if isinstance(value, tuple) else (None, value)
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{text}\r\n")
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


def _call(schema: Any, method: str, path: str, **parts: Any) -> Any:
    if "body" in parts and "media_type" not in parts:
        parts["media_type"] = "application/json"
    response = schema[path][method].Case(**parts).call()
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response


def fuzz_config(seeds: Seeds | None = None) -> schemathesis.Config:
    """Every phase but the stateful one, positive and malformed data, few examples, fixed seed.

    Checks: responses match their documented schema, status code and content type; malformed
    input is refused (4xx); and no server error, where a documented 502/503/504 is not one:
    it is how the API says that an engine (here a cloud judge at a closed port, or a local
    judge that gives no verdict) failed, and status_code_conformance still demands that the
    operation documents it. A 500 is always a failure.
    """
    data: dict[str, Any] = {
        "seed": 20240505,
        "generation": {"mode": "all", "max-examples": 25, "deterministic": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {
            "enabled": False,
            "not_a_server_error": {
                "enabled": True,
                "expected-statuses": ["1XX", "2XX", "3XX", "4XX", "502", "503", "504"],
            },
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            # A body over ARENA_MAX_BODY_BYTES is refused before it is read: 413 is a refusal too.
            "negative_data_rejection": {
                "enabled": True,
                "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"],
            },
        },
    }
    if seeds is not None:
        # Seeded ids replace some generated ones, so reads, votes and reveals find real rows too.
        data["dictionaries"] = {
            "conversations": {"values": seeds.conversation_ids},
            "disposable": {"values": seeds.disposable_ids},
            "turns": {"values": seeds.turn_ids},
            "runs": {"values": seeds.run_ids},
            "models": {"values": list(INSTALLED)},
        }
        often = 0.5
        data["parameters"] = {
            "path.conversation_id": {"dictionary": "conversations", "probability": often},
            "query.conversation_id": {"dictionary": "conversations", "probability": often},
            "body.conversation_id": {"dictionary": "conversations", "probability": often},
            "body.turn_id": {"dictionary": "turns", "probability": often},
            "query.turn_id": {"dictionary": "turns", "probability": often},
            "path.run_id": {"dictionary": "runs", "probability": often},
            # Mostly installed models, so chats and judges get past the model check and generate.
            "body.model_instances[*].model": {"dictionary": "models", "probability": 0.9},
            "body.models[*]": {"dictionary": "models", "probability": 0.9},
            "body.judge_model": {"dictionary": "models", "probability": 0.9},
        }
        data["operations"] = [
            {
                "include-name": "DELETE /api/conversations/{conversation_id}",
                "parameters": {"path.conversation_id": {"dictionary": "disposable", "probability": often}},
            }
        ]
    return schemathesis.Config.from_dict(data)


def served_routes(app: FastAPI) -> Iterator[tuple[str, set[str], BaseRoute]]:
    """(path, methods, route) for every route the app answers, routers included."""
    # FastAPI ≥ 0.160 keeps included routers as nodes; iter_route_contexts walks them.
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in walk(app.routes) if walk else app.routes:
        if isinstance(getattr(route, "original_route", route), Mount):
            yield route.path, set(), route
            continue
        path = getattr(route, "path_format", None) or route.path
        yield path, set(route.methods or ()) - {"HEAD"}, route


def is_html_page(route: Any) -> bool:
    response_class = getattr(route, "response_class", None)
    response_class = getattr(response_class, "value", response_class)  # unwrap FastAPI's Default()
    return isinstance(response_class, type) and issubclass(response_class, HTMLResponse)
