"""What the login page says after a single sign-on refusal. The callback sends the browser to
``/login?sso=<code>`` (not left on the callback URL with its code and state); only a code
travels in the URL, so a link cannot make our page say words of someone else's."""

from __future__ import annotations

from typing import Final

NOT_THIS_LOGIN: Final = "again"
NOT_IN_GROUP: Final = "group"
PROVIDER_SAID_NO: Final = "provider"
UNREACHABLE: Final = "unreachable"

_MESSAGES: Final = {
    NOT_THIS_LOGIN: "This sign-in is unknown, expired or was started in another browser: sign in again from this page",
    NOT_IN_GROUP: (
        "Your {name} account is not in the group this arena requires (ARENA_OIDC_REQUIRED_CLAIM); "
        "ask whoever manages {name} to add you"
    ),
    PROVIDER_SAID_NO: "{name} did not sign you in: sign in again, or ask whoever manages {name}",
    UNREACHABLE: "{name} cannot be reached just now: try again later, or log in with a local account",
}


def message(code: str | None, *, provider: str) -> str | None:
    """The sentence for a refusal code, naming the provider (ARENA_OIDC_NAME); None for any other code."""
    text = _MESSAGES.get(code or "")
    return text.format(name=provider) if text is not None else None
