"""The API docs, served by the platform itself: Swagger UI from web_dist/console/api-docs (built
from swagger-ui-dist by `make web`, no CDN, no inline script) and the OpenAPI document.

In demo mode both are open. Otherwise the document needs a signed-in user: the page itself
holds no data, and its script (web/console/public/api-docs/init.js) fetches the document with
the console's token from the same tab, or sends the visitor to the console login, which comes
back here. "Try it out" then calls the API as that user.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from zhengding.config import Settings
from zhengding.core.errors import NotFound
from zhengding.http import openapi
from zhengding.http.deps import signed_in_actor
from zhengding.http.responses import JSON
from zhengding.http.routing import make_router

DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"


def install(app: FastAPI, settings: Settings, pages: Path) -> None:
    """Routes for the docs: FastAPI's own (docs_url, openapi_url) must be off."""
    openapi.install(app)
    router = make_router()
    login = [] if settings.demo else [Depends(signed_in_actor)]

    @router.get(OPENAPI_PATH, include_in_schema=False, dependencies=login)
    async def openapi_document(request: Request) -> JSON:
        return JSON(request.app.openapi())

    @router.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> RedirectResponse:
        # the page's assets are relative to the folder
        return RedirectResponse(DOCS_PATH + "/")

    if not (pages / "index.html").exists():

        @router.get(DOCS_PATH + "/{path:path}", include_in_schema=False)
        async def docs_not_built(path: str) -> None:
            raise NotFound("接口文档页面尚未构建，请先执行 make web")

    app.include_router(router)
    if (pages / "index.html").exists():
        app.mount(DOCS_PATH, StaticFiles(directory=pages, html=True), name="api-docs")
