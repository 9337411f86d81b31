"""Fuzz every operation of /openapi.json against the real app (issue 5).

Schemathesis reads the schema from the running app in process, then for each operation sends
its examples, the coverage phase's boundary and malformed cases, and randomly generated valid
and invalid requests. Every response must be documented (status code, content type, body
schema); malformed input must be refused with a 4xx; every error must be JSON with a message;
and nothing may be a 500. See `tests/support/fuzz_app.py` for the engines and the seeded rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.core.result import Err
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.python import asgi

from arena.web.auth.limits import BUCKETS
from tests.support.fuzz_app import UNDOCUMENTED, FuzzArena, fuzz_arena, fuzz_config, is_html_page, seed, served_routes

pytestmark = pytest.mark.timeout(240)


# Few examples per operation, the same ones on every run: CI stays fast and reproducible.
FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture
def arena(tmp_path: Path) -> Iterator[FuzzArena]:
    with fuzz_arena(tmp_path / "fuzz-data") as running:
        try:
            yield running
        finally:
            # Schemathesis started the app's lifespan; end it while the double still runs.
            asgi.shutdown_lifespans()


def error_body_has_message(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx is JSON `{"error": "<message>"}` (under /v1, OpenAI's `{"error": {"message": …}}`):
    clear to a person, and to a script."""
    if response.status_code < 400:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media_type == "application/json", f"{response.status_code} answered as {media_type!r}, not JSON"
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if case.path.startswith("/v1/"):  # the OpenAI-compatible gateway: OpenAI's error shape
        error = error.get("message") if isinstance(error, dict) else None
    assert isinstance(error, str) and error.strip(), (
        f"{response.status_code} without an error message: {response.text[:300]}"
    )
    return None


def check_case(case: Case) -> None:
    case.call_and_validate(additional_checks=[error_body_has_message])


def test_every_operation_answers_as_documented(arena: FuzzArena) -> None:
    seeds = seed(schemathesis.openapi.from_asgi("/openapi.json", arena.app, config=fuzz_config()))
    schema = schemathesis.openapi.from_asgi("/openapi.json", arena.app, config=fuzz_config(seeds))
    failures: dict[str, str] = {}
    fuzzed: set[str] = set()
    # One Hypothesis test per operation, built as schemathesis's pytest plugin builds them (its
    # lazy loader reads `request.node._nodeid`, which pytest 9 no longer has), run here so that
    # every operation runs even after another failed, and so the list of those run is checked.
    for result in get_all_tests(schema=schema, test_func=check_case, settings=FUZZ_SETTINGS, given_kwargs=None):
        if isinstance(result, Err):  # an operation the fuzz cannot even read is a failure too
            failures[str(result.err().label)] = str(result.err())
            continue
        operation, run_operation = result.ok()
        fuzzed.add(operation.label)
        try:
            run_operation()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures are reported together
            failures[operation.label] = _describe(exc)
    documented = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item}
    assert documented - fuzzed == set(), "operations the fuzz never ran"
    assert not failures, "\n\n".join(f"== {label}\n{message}" for label, message in sorted(failures.items()))


def _describe(exc: BaseException) -> str:
    """Schemathesis's own report (what failed, the response, a curl line to reproduce it)."""
    text = str(exc) if isinstance(exc, BaseExceptionGroup) else f"{type(exc).__name__}: {exc}"
    return text[:3000]


def test_every_route_is_in_the_schema(tmp_path: Path) -> None:
    """A route hidden from /openapi.json would be hidden from the fuzz too: only pages may hide."""
    with fuzz_arena(tmp_path / "data") as running:
        app = running.app
        documented = {(path, method.upper()) for path, item in app.openapi()["paths"].items() for method in item}
        missing = []
        for path, methods, route in served_routes(app):
            if path in UNDOCUMENTED or (not getattr(route, "include_in_schema", True) and is_html_page(route)):
                continue
            missing += [f"{method} {path}" for method in sorted(methods) if (path, method) not in documented]
        assert missing == []
        # And the walk saw the routers' routes, not only the app's own.
        assert any(path == "/api/chat" for path, _, _ in served_routes(app))


def test_rate_limited_routes_document_429(tmp_path: Path) -> None:
    """The fuzz turns rate limits off to reach the handlers, so their 429 is checked here."""
    with fuzz_arena(tmp_path / "data") as running:
        paths = running.app.openapi()["paths"]
    undocumented = [f"{method} {path}" for method, path in BUCKETS if "429" not in paths[path][method.lower()]["responses"]]
    assert BUCKETS and undocumented == []


def test_operations_with_a_body_document_413(tmp_path: Path) -> None:
    """BodySizeLimit refuses any body over ARENA_MAX_BODY_BYTES before a route sees it."""
    with fuzz_arena(tmp_path / "data") as running:
        paths = running.app.openapi()["paths"]
    undocumented = [
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method, operation in item.items()
        if "requestBody" in operation and "413" not in operation["responses"]
    ]
    assert undocumented == []
