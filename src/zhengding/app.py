"""The ASGI application: API routers, error handlers, static web apps, background services."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from zhengding import domains
from zhengding.config import Settings, get_settings
from zhengding.core.db import get_db, init_db, set_db
from zhengding.core.manifest import Manifest
from zhengding.http import docs, errors, hygiene, security_headers
from zhengding.http.middleware import RequestContextMiddleware

log = logging.getLogger("zhengding")


def tune_gc() -> None:
    """After start-up: what is alive now (modules, the resolver's tables, the org data) lives
    as long as the process, so the cyclic collector stops walking it (gc.freeze), and young
    collections run every 50,000 allocations instead of 700. With thousands of WebSocket
    connections in the heap, the default thresholds cost an inbound POST ~25% more CPU."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def web_dist() -> Path:
    return Path(str(resources.files("zhengding"))) / "web_dist"


def create_app(
    settings: Settings | None = None, *, manage_db: bool = True, manifests: Sequence[Manifest] | None = None
) -> FastAPI:
    """The app of the installed manifests (zhengding/domains.py MANIFESTS unless `manifests`
    are given, which are installed first)."""
    settings = settings or get_settings()
    domains.install(domains.MANIFESTS if manifests is None else manifests)
    plugged = domains.installed() if manifests is None else tuple(manifests)
    services = domains.services(plugged)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_db:
            init_db(settings.database_url)
        async with AsyncExitStack() as stack:
            for factory in services:
                await stack.enter_async_context(factory(settings))
            if settings.gc_tuning:
                tune_gc()
            yield
        if manage_db:
            await get_db().dispose()
            set_db(None)

    app = FastAPI(
        title="政钉 Zhengding API",
        version="0.1.0",
        docs_url=None,  # http/docs.py: local assets under the CSP, login outside demo mode
        openapi_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    # A request is matched against the routes in this order: the manifests give the
    # machine-to-machine hot paths (the inbound APIs) the lowest order; the docs group by tag.
    for router in domains.routers(plugged):
        app.include_router(router, dependencies=[Depends(hygiene.check_parameters)])
    docs.install(app, settings, web_dist() / "console" / "api-docs")
    _mount_web(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
        trusted_proxies=settings.trusted_proxies,
    )
    security_headers.install(app)
    return app


def _mount_web(app: FastAPI) -> None:
    dist = web_dist()

    def spa(name: str) -> None:
        root = dist / name
        if not (root / "index.html").exists():
            return
        app.mount(
            f"/{'m' if name == 'mobile' else name}/assets",
            StaticFiles(directory=root / "assets", check_dir=False),
            name=f"{name}-assets",
        )

        async def index(path: str = "") -> Response:
            candidate = (root / path).resolve()
            if path and candidate.is_file() and root.resolve() in candidate.parents:
                return FileResponse(candidate)
            return FileResponse(root / "index.html", headers={"Cache-Control": "no-cache"})

        prefix = "/m" if name == "mobile" else "/console"
        app.add_api_route(prefix + "/{path:path}", index, include_in_schema=False)
        app.add_api_route(prefix, lambda: RedirectResponse(prefix + "/"), include_in_schema=False)

    spa("console")
    spa("mobile")

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        agent = request.headers.get("user-agent", "").lower()
        phone = any(word in agent for word in ("mobile", "android", "iphone"))
        return RedirectResponse("/m/" if phone else "/console/")
