"""The server processes sharing this database, each with a lease it renews (process_leases.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arena.storage.models import Base, utcnow

PROCESS_ID_MAX_LENGTH: Final = 32
HOST_MAX_LENGTH: Final = 255


class ServerProcess(Base):
    """One running server process: alive while its heartbeat is younger than the lease."""

    __tablename__ = "server_processes"

    id: Mapped[str] = mapped_column(String(PROCESS_ID_MAX_LENGTH), primary_key=True)
    host: Mapped[str] = mapped_column(String(HOST_MAX_LENGTH))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"ServerProcess(id={self.id!r}, host={self.host!r}, pid={self.pid!r})"
