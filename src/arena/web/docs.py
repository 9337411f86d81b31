"""OpenAPI docs served from this process: Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI
writes) comes from the `fastapi-offline` package's assets instead of a CDN, so /docs works on a
machine with no internet."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
# swagger-ui-bundle.js, swagger-ui.css and favicon.png, as the package ships them.
ASSET_DIR = files("fastapi_offline") / "static"
# No validator badge: it would send the document to validator.swagger.io.
UI_PARAMETERS = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(ASSET_DIR)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def get_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            swagger_ui_parameters=UI_PARAMETERS,
        )
