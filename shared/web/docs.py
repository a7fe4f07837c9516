"""API documentation pages served from packaged assets, so they render on a network with no internet access.

Swagger UI and ReDoc come from the ``fastapi-offline`` wheel's static files, served under ``/docs/assets``.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
# Pages that load scripts and styles: the API answers' strict content security policy would blank them.
PAGE_PREFIXES = ("/docs", "/redoc", "/ogc/api.html")


def _assets_dir() -> str:
    return str(files("fastapi_offline") / "static")


def swagger_page(request: Request, openapi_url: str, title: str) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{openapi_url}",
        title=title,
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        swagger_ui_parameters={"persistAuthorization": True},
    )


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI, with an Authorize button for the API key) and ``/redoc``, with no CDN."""
    app.mount(ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return swagger_page(request, "/openapi.json", f"{app.title} - Swagger UI")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
