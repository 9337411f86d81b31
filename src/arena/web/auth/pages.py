"""Pages ask for a role too: without a session they send the browser to /login instead of a 401."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from arena.web.auth.authentication import optional_principal
from arena.web.auth.principal import Role


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def page_role(needed: Role) -> object:
    async def check(request: Request) -> None:
        if request.app.state.settings.auth_mode == "token":
            return  # the page asks for the token itself; the API checks it on every call
        principal = await optional_principal(request)
        if principal is None:
            raise LoginRequired(request.url.path)
        if not principal.has_role(needed):
            raise HTTPException(status_code=403, detail=f"This page needs the {needed} role; you are {principal.role}")

    check.__name__ = f"page_requires_{needed}"
    return Depends(check)


def install_login_redirect(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)


PageViewer = page_role("viewer")
PageEvaluator = page_role("evaluator")
PageAdmin = page_role("admin")
