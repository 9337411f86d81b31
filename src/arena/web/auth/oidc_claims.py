"""What an ID token's claims mean to the arena: may this person log in, with which role, under
which name. Pure functions over the verified claims, no I/O.

A claim is named as the provider names it; a name that is not a top-level claim is followed
through objects at its dots (Keycloak's ``realm_access.roles``), so a URL-like claim name
(``https://example.com/roles``) still works as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arena.oidc_settings import OIDC_ROLES, OidcSettings

_MISSING = object()


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim's value, or None when absent."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _values(value: Any) -> list[str]:
    """A claim as a list of strings: a list's items, one string, or a boolean as true/false."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in items]


def meets_requirement(claims: Mapping[str, Any], requirement: str | None) -> bool:
    """`claim` must be present and not false or empty; `claim=value` must equal the value, or list it."""
    if not requirement:
        return True
    name, sep, wanted = requirement.partition("=")
    value = claim(claims, name.strip())
    if not sep:
        return value not in (None, False, "", [], {})
    return wanted.strip() in _values(value)


def role_of(claims: Mapping[str, Any], settings: OidcSettings) -> str:
    """The highest role the role claim names (through ARENA_OIDC_ROLE_VALUES), else the default."""
    if not settings.oidc_role_claim:
        return settings.oidc_default_role
    named = {settings.oidc_role_values.get(value) for value in _values(claim(claims, settings.oidc_role_claim))}
    for role in reversed(OIDC_ROLES):  # highest first
        if role in named:
            return role
    return settings.oidc_default_role


def wanted_name(claims: Mapping[str, Any], settings: OidcSettings) -> str:
    """What the provider calls the person (the configured claim, then e-mail's local part, then
    sub); only a label for a new account, never what finds one. An e-mail counts only when the
    provider says it verified it (`email_verified` true): anyone may type any address."""
    for name in (settings.oidc_username_claim, "email"):
        value = claim(claims, name)
        if name == "email" and claims.get("email_verified") is not True:
            continue
        if isinstance(value, str) and value.strip():
            return value.split("@")[0] if name == "email" else value
    return str(claims.get("sub", "user"))
