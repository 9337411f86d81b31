"""httpx's failures and HTTP error statuses, translated into the arena's ``EngineError`` tree.

The engines that speak HTTP themselves (Ollama, OpenAI-compatible servers) fail in the same
ways: no server, a timeout, a broken connection, an error status. This module holds the one
translation, as tables: which httpx exception is which ``Failure``, and, per engine, which
``Reply`` (an ``EngineError`` subclass and a message template) each failure and each status
gets. The engine supplies its replies, with its own hints (``start it with `ollama serve```,
which variable holds the key), and the fields its templates name.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import httpx

from arena.errors import EngineError

CLIENT_ERRORS: Final = range(400, 500)
SERVER_ERRORS: Final = range(500, 1000)
EVERY_STATUS: Final = range(1000)  # the last row of a status table, so every status gets a reply

# Everything httpx raises about a request: its errors, a malformed URL, a misused stream.
HTTPX_ERRORS: Final = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)


@dataclass(frozen=True)
class Reply:
    """The ``EngineError`` subclass to raise and its message, a ``str.format`` template."""

    error: type[EngineError]
    message: str

    def render(self, **fields: Any) -> EngineError:
        return self.error(self.message.format(**fields))


@dataclass(frozen=True)
class StatusReply(Reply):
    """A ``Reply`` for the HTTP statuses in ``statuses``.

    With ``model_missing`` it applies only when the engine read the server's words as "no such
    model", since servers answer that with 400 or 422 as often as with 404.
    """

    statuses: Container[int] = EVERY_STATUS
    model_missing: bool = False


class Failure(Enum):
    """What went wrong below HTTP, whichever engine was talking."""

    CONNECT_TIMEOUT = "no connection accepted in time"
    TIMEOUT = "no answer in time"
    NO_SERVER = "connection refused"
    BROKEN = "connection broke off"
    UNDECODABLE = "a body that cannot be decoded"
    BAD_URL = "not a usable http(s) URL"
    MISUSED_STREAM = "a response stream read twice or after closing"
    OTHER = "any other httpx error"


# Most specific first: ConnectTimeout is also a TimeoutException, ConnectError a NetworkError.
_FAILURES: Final[Sequence[tuple[tuple[type[Exception], ...], Failure]]] = (
    ((httpx.ConnectTimeout,), Failure.CONNECT_TIMEOUT),
    ((httpx.TimeoutException,), Failure.TIMEOUT),
    ((httpx.ConnectError,), Failure.NO_SERVER),
    ((httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError), Failure.BROKEN),
    ((httpx.DecodingError,), Failure.UNDECODABLE),
    ((httpx.UnsupportedProtocol, httpx.InvalidURL), Failure.BAD_URL),
    ((httpx.StreamError,), Failure.MISUSED_STREAM),
    ((httpx.HTTPError,), Failure.OTHER),
)


def _as_is(text: str) -> str:
    return text


def failure_of(exc: BaseException) -> Failure | None:
    """Which failure an httpx exception reports; None for anything that is not httpx's."""
    for classes, failure in _FAILURES:
        if isinstance(exc, classes):
            return failure
    return None


def transport_error(
    exc: BaseException,
    replies: Mapping[Failure, Reply],
    *,
    quote: Callable[[str], str] = _as_is,
    **fields: Any,
) -> EngineError | None:
    """The engine's error for an httpx exception, or None when its table has no reply for it.

    Besides the engine's ``fields``, templates may name ``{error}`` (the exception's text) and
    ``{detail}`` (its text, or its class name when it has none), both passed through ``quote``.
    """
    failure = failure_of(exc)
    reply = replies.get(failure) if failure is not None else None
    if reply is None:
        return None
    text = str(exc)
    return reply.render(error=quote(text), detail=quote(text or type(exc).__name__), **fields)


@contextmanager
def translating(
    replies: Mapping[Failure, Reply], *, quote: Callable[[str], str] = _as_is, **fields: Any
) -> Iterator[None]:
    """Raise the engine's error for any httpx exception in the block; nothing from httpx leaves it.

    An exception the table has no reply for propagates untouched: it is a bug, not a failure.
    """
    try:
        yield
    except HTTPX_ERRORS as exc:
        error = transport_error(exc, replies, quote=quote, **fields)
        if error is None:
            raise
        raise error from exc


def status_error(
    status: int, replies: Sequence[StatusReply], *, model_missing: bool = False, **fields: Any
) -> EngineError:
    """The first reply in the table that fits the status; templates may name ``{status}``."""
    for reply in replies:
        if status in reply.statuses and (model_missing or not reply.model_missing):
            return reply.render(status=status, **fields)
    raise ValueError(f"the status table has no reply for HTTP {status}; end it with EVERY_STATUS")
