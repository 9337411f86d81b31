"""Every malformed request gets a clear 4xx with a JSON `error`, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.models import SMOL
from tests.support.server import RunningArena, make_settings, running_arena


@pytest.fixture(scope="module")
def small_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArena]:
    settings = make_settings(tmp_path_factory.mktemp("bad-input"), max_body_bytes=4096)
    with running_arena(settings) as running:
        yield running


def conversations(arena: RunningArena) -> int:
    with arena.client() as client:
        return len(client.get("/api/conversations").json()["conversations"])


def instance(**overrides: object) -> dict:
    return {"model": SMOL, "num_predict": 4, **overrides}


BAD_400 = [
    ({"model_instances": [instance()]}, "No messages"),
    ({"message": "   ", "model_instances": [instance()]}, "No messages"),
    ({"history": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "models": [SMOL]}, "last message"),
    ({"message": "hi"}, "No models"),
    ({"message": "hi", "model_instances": []}, "No models"),
    (
        {"message": "hi", "model_instances": [instance(), instance()]},
        "Duplicate model instance detected: local_smollm2-135m-instruct__0.7_0.9_40_1.1_4_0",
    ),
    ({"message": "hi", "model_instances": [instance(seed=s) for s in range(1, 10)]}, "Too many model instances: 9"),
    ({"message": "hi", "models": ["openai:missing-slash"]}, "openai:<endpoint>/<model>"),
]


@pytest.mark.parametrize("route", ["/api/chat", "/api/stream_chat"])
@pytest.mark.parametrize(("body", "message"), BAD_400)
def test_bad_requests_are_400_with_a_message(small_arena: RunningArena, route: str, body: dict, message: str) -> None:
    before = conversations(small_arena)
    with small_arena.client() as client:
        response = client.post(route, json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert conversations(small_arena) == before, "nothing half-written"


BAD_422 = [
    (instance(temperature=0.0), "temperature"),
    (instance(temperature=2.5), "temperature"),
    (instance(top_p=1.5), "top_p"),
    (instance(top_k=101), "top_k"),
    (instance(repeat_penalty=0.9), "repeat_penalty"),
    (instance(num_predict=5000), "num_predict"),
    (instance(num_predict=-2), "num_predict"),
    (instance(seed=-1), "seed"),
    (instance(top_k="many"), "top_k"),
    (instance(temperature="hot"), "temperature"),
    (instance(min_p=0.1), "min_p"),
    ({"temperature": 0.5}, "model"),
]


@pytest.mark.parametrize(("bad_instance", "field"), BAD_422)
def test_out_of_range_or_mistyped_hyperparameters_are_422(small_arena: RunningArena, bad_instance: dict, field: str) -> None:
    before = conversations(small_arena)
    with small_arena.client() as client:
        response = client.post("/api/stream_chat", json={"message": "hi", "model_instances": [bad_instance]})
    assert response.status_code == 422
    assert f"model_instances.0.{field}" in response.json()["error"]
    assert conversations(small_arena) == before


def test_malformed_json_is_422(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        response = client.post("/api/chat", content=b'{"message": "hi", ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["error"]


def test_unknown_model_alone_is_404(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        for route in ("/api/chat", "/api/stream_chat"):
            response = client.post(route, json={"message": "hi", "models": ["local:not-installed"]})
            assert response.status_code == 404
            assert "local:not-installed" in response.json()["error"]


def test_unknown_conversation_is_404(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        response = client.post("/api/chat", json={"message": "hi", "models": [SMOL], "conversation_id": "0" * 32})
    assert response.status_code == 404
    assert "does not exist" in response.json()["error"]


def test_body_over_the_limit_is_413(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        response = client.post("/api/chat", json={"message": "x" * 5000, "models": [SMOL]})
        assert response.status_code == 413
        assert "4096" in response.json()["error"]
        # Sent in chunks without a Content-Length: still refused.
        chunked = client.post(
            "/api/chat", content=iter([b'{"message": "', b"x" * 5000, b'"}']), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413


def test_bearer_token_guards_everything_but_health(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = make_settings(tmp_path_factory.mktemp("token"), web_chat_token="s3cret-token")
    with running_arena(settings) as arena, arena.client() as client:
        assert client.get("/api/health").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
            response = client.get("/api/models", headers=headers)
            assert response.status_code == 401
            assert response.json() == {"error": "Missing or invalid Authorization header"}
            assert client.post("/api/chat", json={"message": "hi", "models": [SMOL]}, headers=headers).status_code == 401
        ok = client.get("/api/models", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        assert "smollm2-135m-instruct" in ok.json()["models"]


# --- found by the OpenAPI fuzz (tests/api/test_openapi_fuzz.py) ------------------------------


@pytest.mark.parametrize("route", ["/api/chat", "/api/stream_chat"])
def test_an_empty_legacy_model_name_is_422_not_500(small_arena: RunningArena, route: str) -> None:
    with small_arena.client() as client:
        response = client.post(route, json={"message": "hi", "models": [""]})
    assert response.status_code == 422
    assert response.json()["error"].startswith("models.0:")


def test_a_body_that_is_not_utf8_is_422_saying_so(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        response = client.post("/api/render", content=b")\xc0B\x8d\xfe\xff", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "the body is not valid JSON: it is not UTF-8 text"


def test_a_body_that_is_not_an_object_is_422_saying_so(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        response = client.post("/api/render", content=b'{"markdown": "x"}', headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert response.json()["error"] == "the body must be a JSON object (Content-Type: application/json)"


@pytest.mark.parametrize("value", ["0", "1.5", "-1"])
def test_a_leaderboard_time_that_is_a_number_is_422(small_arena: RunningArena, value: str) -> None:
    """Pydantic would read it as a Unix timestamp; the schema says ISO 8601 text."""
    with small_arena.client() as client:
        response = client.get("/api/leaderboard", params={"until": value, "rounds": 0})
    assert response.status_code == 422
    assert "ISO 8601" in response.json()["error"]


# Bounded parsing: Python's JSON parser recurses per level and int() refuses over 4,300 digits;
# both used to escape as a 500 (the import) or a vague "error parsing the body" (the rest).
DEEP = "[" * 2000 + "]" * 2000  # under this arena's 4 KiB body limit, past the parser's recursion
HUGE_NUMBER = '{"message": "hi", "models": ["' + SMOL + '"], "seed": ' + "9" * 1500 + "}"


@pytest.mark.parametrize("route", ["/api/stream_chat", "/api/conversations", "/api/conversations/import", "/api/render"])
@pytest.mark.parametrize(
    ("raw", "message"), [(DEEP, "nested more than 64 levels deep"), (HUGE_NUMBER, "number with more than 100 digits")]
)
def test_json_bodies_are_bounded_in_depth_and_number_size(
    small_arena: RunningArena, route: str, raw: str, message: str
) -> None:
    before = conversations(small_arena)
    with small_arena.client() as client:
        response = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert conversations(small_arena) == before


def test_numbers_and_brackets_inside_strings_are_only_text(small_arena: RunningArena) -> None:
    with small_arena.client() as client:
        response = client.post("/api/render", json={"markdown": "[" * 500 + "9" * 500 + "\\\"{"})
    assert response.status_code == 200, response.text
