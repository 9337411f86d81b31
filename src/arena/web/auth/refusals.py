"""The one 429 every limit answers with: it names the limit that refused (`bucket`), so /metrics
counts refusals per limit and the abuse alerts see a caller refused again and again."""

from __future__ import annotations

from fastapi import HTTPException


class TooManyRequests(HTTPException):
    """A 429 that `web/errors.py` renders as {"error": message}, with Retry-After."""

    def __init__(self, message: str, *, retry_after: int, bucket: str = "other") -> None:
        super().__init__(status_code=429, detail=message, headers={"Retry-After": str(retry_after)})
        self.bucket = bucket


def too_many_requests(message: str, *, retry_after: int, bucket: str = "other") -> HTTPException:
    return TooManyRequests(message, retry_after=retry_after, bucket=bucket)
