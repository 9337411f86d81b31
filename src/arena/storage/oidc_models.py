"""Single sign-on records: which arena account an identity provider's user is, and logins under way.

An identity is (issuer, subject): the provider's own stable id for a person, never a name or an
e-mail address, which a provider lets people choose or change. A pending login holds what the
callback must check (its `state`, the `nonce` the ID token must carry, the PKCE verifier, the
redirect URI) for ten minutes, bound to the browser that started it by a cookie kept as its hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from arena.storage.models import Base, utcnow

ISSUER_MAX_LENGTH: Final = 255
SUBJECT_MAX_LENGTH: Final = 255  # OpenID Connect Core 2: sub is at most 255 ASCII characters
NEXT_PATH_MAX_LENGTH: Final = 2048


class OidcIdentity(Base):
    """The arena account of one identity provider user; removing the account removes this link."""

    __tablename__ = "oidc_identities"
    __table_args__ = (Index(None, "user_id", unique=True),)

    issuer: Mapped[str] = mapped_column(String(ISSUER_MAX_LENGTH), primary_key=True)
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(default=utcnow)


class OidcLogin(Base):
    """A login sent to the provider and not yet back. Used once: the callback deletes it."""

    __tablename__ = "oidc_logins"
    __table_args__ = (Index(None, "created_at"),)

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the browser's flow cookie
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(NEXT_PATH_MAX_LENGTH))
    next_path: Mapped[str] = mapped_column(String(NEXT_PATH_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
