"""One exception tree for the whole arena.

    ArenaError
    ├── InvalidInput            bad request data the schema could not catch (400)
    │   ├── TooLarge            more data than the configured limit (413)
    │   └── UnsupportedContent  a file that is not of an accepted kind (415)
    ├── NotFound                a record or model that does not exist (404)
    ├── Conflict                a state change that is no longer allowed (409)
    ├── EncryptionKeyError      the encryption key is unusable, or not the data's key (500)
    ├── StorageUnavailable      the database could not be read or written just now (503)
    ├── SharedStateUnavailable  Redis, the state server processes share, is unreachable (503)
    ├── ServerBusy              every generation is taken and the queue's wait ran out (503)
    └── EngineError             anything that went wrong talking to a model engine
        ├── EngineUnavailable   the engine is not running / not reachable (503)
        │   └── MemoryBusy      models generating now hold the embedded memory budget (503)
        ├── EngineTimeout       it did not answer in time (504)
        ├── EngineProtocolError it answered something we cannot parse (502)
        └── EngineRejected      it refused the request (400)
            ├── ModelNotAvailable  the model is not installed / pulled (404)
            └── ModelTooLarge   an embedded model bigger than its whole memory budget (400)

Engines translate library errors at their boundary (``raise ... from exc``) so nothing
from httpx or llama_cpp leaks upward. HTTP status codes are chosen in ``web/errors.py``,
CLI exit codes in ``cli/_common.py``.
"""

from __future__ import annotations


class ArenaError(Exception):
    """Base of every error the arena raises on purpose."""


class InvalidInput(ArenaError):
    """The request is well-formed but makes no sense (no messages, duplicate instance...)."""


class TooLarge(InvalidInput):
    """More data than a configured limit allows (an attachment, a body)."""


class UnsupportedContent(InvalidInput):
    """Content of a kind the arena does not accept, e.g. a binary file as an attachment."""


class NotFound(ArenaError):
    """A conversation, turn, model or other record that does not exist."""


class Conflict(ArenaError):
    """The change is no longer allowed, e.g. a vote after the reveal."""


class EncryptionKeyError(ArenaError):
    """The encryption key is malformed, unsafe, missing, or not the one the data was written with."""


class StorageUnavailable(ArenaError):
    """The database failed (restarted, full disk, read-only); the request may be tried again."""

    retry_after_s = 5  # sent as Retry-After


class SharedStateUnavailable(ArenaError):
    """Redis (ARENA_REDIS_URL: limits, budgets and stop signals shared by every process) could not
    be reached. Logins and generations are refused rather than run with counts nobody shares."""

    retry_after_s = 5  # sent as Retry-After


class ServerBusy(ArenaError):
    """Every generation the server may run is taken, and the request waited its turn in the
    queue for ARENA_QUEUE_TIMEOUT_S without one coming free."""

    retry_after_s = 5  # sent as Retry-After


class EngineError(ArenaError):
    """A model engine failed; the message says what a user can do about it."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached (not running, connection refused, busy)."""


class MemoryBusy(EngineUnavailable):
    """An embedded model would fit the memory budget, but models in use hold too much of it now."""

    retry_after_s = 5  # sent as Retry-After


class EngineTimeout(EngineError):
    """The engine did not answer within the configured timeout."""


class EngineProtocolError(EngineError):
    """The engine answered with something that does not follow its protocol."""


class EngineRejected(EngineError):
    """The engine understood the request and refused it."""


class ModelNotAvailable(EngineRejected):
    """The model is unknown to the engine (not pulled, not in the catalog)."""


class ModelTooLarge(EngineRejected):
    """An embedded model needs more memory than ARENA_EMBEDDED_MAX_MEMORY, even with nothing else loaded."""
