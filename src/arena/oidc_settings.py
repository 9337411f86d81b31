"""The single sign-on settings (OpenID Connect), grouped: `Settings` inherits them.

Off unless ``ARENA_OIDC_ISSUER`` is set; then ``ARENA_AUTH_MODE=users`` and a client id are
required. The client secret comes from ``ARENA_OIDC_CLIENT_SECRET`` or a file named by
``ARENA_OIDC_CLIENT_SECRET_FILE`` (read once here, kept as a SecretStr, never logged); without
either the arena is a public client and PKCE alone protects the code.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

OidcRole = Literal["viewer", "evaluator", "admin"]
OIDC_ROLES: Final[tuple[str, ...]] = ("viewer", "evaluator", "admin")  # lowest first


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_url(value: str, *, what: str) -> str:
    """An http(s) URL without query or fragment; plain http only on loopback (a test or a laptop).
    Kept as written otherwise: an issuer is compared with the provider's own, character for character."""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{what} must be an https:// URL without query or fragment")
    if parts.username or parts.password:
        raise ValueError(f"{what} must not carry a user name or password")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{what} must use https (plain http only on loopback)")
    return url


class OidcSettings(BaseSettings):
    public_url: str | None = Field(
        None,
        validation_alias="ARENA_PUBLIC_URL",
        description="The arena's address as browsers reach it (https://arena.example.com); the single sign-on "
        "redirect URI is <this>/auth/oidc/callback. Unset: taken from the request (behind ARENA_TRUSTED_PROXIES)",
    )
    oidc_issuer: str | None = Field(
        None,
        validation_alias="ARENA_OIDC_ISSUER",
        description="The identity provider's issuer URL; its discovery document and keys are fetched from its origin only",
    )
    oidc_client_id: str | None = Field(None, validation_alias="ARENA_OIDC_CLIENT_ID", max_length=255)
    oidc_client_secret: SecretStr | None = Field(
        None, validation_alias="ARENA_OIDC_CLIENT_SECRET", description="The client secret (or use the _FILE variable)"
    )
    oidc_client_secret_file: Path | None = Field(
        None, validation_alias="ARENA_OIDC_CLIENT_SECRET_FILE", description="A file holding the client secret"
    )
    oidc_scopes: str = Field("openid profile email", validation_alias="ARENA_OIDC_SCOPES")
    oidc_name: str = Field(
        "single sign-on",
        min_length=1,
        max_length=60,
        validation_alias="ARENA_OIDC_NAME",
        description='The provider\'s name on the login page: "Sign in with <name>"',
    )
    oidc_username_claim: str = Field(
        "preferred_username",
        min_length=1,
        validation_alias="ARENA_OIDC_USERNAME_CLAIM",
        description="The claim a new account's name is made from (then email, then sub); it never picks the account",
    )
    oidc_required_claim: str | None = Field(
        None,
        validation_alias="ARENA_OIDC_REQUIRED_CLAIM",
        description="Needed to log in at all: `claim` (present and not false/empty) or `claim=value` "
        "(equal, or one of a list, e.g. groups=arena-users)",
    )
    oidc_role_claim: str | None = Field(
        None,
        validation_alias="ARENA_OIDC_ROLE_CLAIM",
        description="The claim (a string or a list; dots reach into objects: realm_access.roles) that carries the "
        "role, read at every login; unset: everyone gets ARENA_OIDC_DEFAULT_ROLE",
    )
    oidc_role_values: Annotated[dict[str, OidcRole], NoDecode] = Field(
        default_factory=lambda: {role: role for role in OIDC_ROLES},
        validation_alias="ARENA_OIDC_ROLE_VALUES",
        description="Which claim value means which role: admin=arena-admins,evaluator=arena-evaluators "
        "(default: the role names themselves); the highest role found wins",
    )
    oidc_default_role: OidcRole = Field(
        "viewer", validation_alias="ARENA_OIDC_DEFAULT_ROLE", description="The role when the role claim names none"
    )

    @field_validator("public_url", mode="after")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return _checked_url(value, what="ARENA_PUBLIC_URL").rstrip("/")

    @field_validator("oidc_issuer", mode="after")
    @classmethod
    def _check_issuer(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        if len(value.strip()) > 255:  # stored beside each identity (oidc_identities.issuer)
            raise ValueError("ARENA_OIDC_ISSUER must be at most 255 characters")
        return _checked_url(value, what="ARENA_OIDC_ISSUER")

    @field_validator("oidc_scopes", mode="after")
    @classmethod
    def _check_scopes(cls, value: str) -> str:
        scopes = value.replace(",", " ").split()
        if "openid" not in scopes:
            scopes.insert(0, "openid")  # without it the provider sends no ID token
        return " ".join(scopes)

    @field_validator("oidc_role_values", mode="before")
    @classmethod
    def _parse_role_values(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        mapping: dict[str, str] = {}
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            role, sep, claim_value = item.partition("=")
            if not sep or role.strip() not in OIDC_ROLES or not claim_value.strip():
                raise ValueError(f"{item!r}: expected role=value with a role of {', '.join(OIDC_ROLES)}")
            mapping[claim_value.strip()] = role.strip()
        return mapping

    @model_validator(mode="after")
    def _check_oidc(self) -> OidcSettings:
        if self.oidc_client_secret_file is not None:
            if self.oidc_client_secret is not None:
                raise ValueError("set ARENA_OIDC_CLIENT_SECRET or ARENA_OIDC_CLIENT_SECRET_FILE, not both")
            try:
                secret = self.oidc_client_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"ARENA_OIDC_CLIENT_SECRET_FILE cannot be read: {exc.strerror}") from None
            if not secret:
                raise ValueError("ARENA_OIDC_CLIENT_SECRET_FILE is empty")
            self.oidc_client_secret = SecretStr(secret)
        if self.oidc_issuer is None:
            return self
        if not self.oidc_client_id:
            raise ValueError("ARENA_OIDC_ISSUER needs ARENA_OIDC_CLIENT_ID")
        if getattr(self, "auth_mode", "users") != "users":
            raise ValueError("ARENA_OIDC_ISSUER needs accounts: ARENA_AUTH_MODE=users")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None and bool(self.oidc_client_id)
