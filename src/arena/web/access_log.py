"""The server's access log shows method, path and status, never a query string: a query can
carry what a user typed (``GET /api/conversations?search=…``), and a log is kept in plaintext,
outside the encrypted database, often far longer than the data it describes."""

from __future__ import annotations

import logging
import re
from typing import Final

ACCESS_LOGGER: Final = "uvicorn.access"
REDACTED: Final = "?[redacted]"
_QUERY = re.compile(r"\?[^\s\"]*")


def redact_query(target: str) -> str:
    """``/path?anything`` → ``/path?[redacted]``; a target without a query stays as it is."""
    return _QUERY.sub(REDACTED, target)


class QueryRedactor(logging.Filter):
    """Rewrites each access-log record before any handler formats it (uvicorn passes the request
    target as one of the record's arguments; a pre-formatted message is redacted as well)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) and "?" in a else a for a in record.args)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_query(record.msg)
        return True


def install_query_redaction() -> None:
    """Put the redactor on uvicorn's access logger, once per process. A logger's filters survive
    uvicorn's own logging set-up (``dictConfig`` replaces handlers, not filters), so this holds
    however the app is served."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QueryRedactor) for f in logger.filters):
        logger.addFilter(QueryRedactor())
