"""The ASGI application: API routers, error handlers, static web apps, background services."""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from zhengding.config import Settings, get_settings
from zhengding.core.db import get_db, init_db, set_db
from zhengding.http import docs, errors, hygiene, security_headers
from zhengding.http.middleware import RequestContextMiddleware

log = logging.getLogger("zhengding")

# Domain routers ("module:attribute"). A request is matched against the routes in this order,
# so the machine-to-machine hot paths (the inbound APIs) come first; the docs group by tag.
ROUTERS = [
    "zhengding.http.health:router",
    "zhengding.returnees.inbound_router:router",
    "zhengding.verification.inbound_router:router",
    "zhengding.accounts.router:auth_router",
    "zhengding.accounts.router:router",
    "zhengding.accounts.roster_router:router",
    "zhengding.orgs.router:router",
    "zhengding.audit.router:router",
    "zhengding.privacy.router:router",
    "zhengding.workbench.router:router",
    "zhengding.notify.router:router",
    "zhengding.realtime.router:router",
    "zhengding.realtime.router:ws_router",
    "zhengding.verification.router:router",
    "zhengding.http.files:router",
    "zhengding.supervision.router:router",
    "zhengding.returnees.router:router",
]

# Background services started with the app: async context managers taking the settings
# (the outbox worker, the Redis broker subscriber …). Domains append "module:attribute".
SERVICES: list[str] = [
    "zhengding.divisions.service:resolver_service",
    "zhengding.realtime.service:realtime_service",
    "zhengding.core.outbox:worker_service",
    "zhengding.accounts.service.duties:duties_check_service",
]


def _load(ref: str):  # type: ignore[no-untyped-def]
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


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


def create_app(settings: Settings | None = None, *, manage_db: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_db:
            init_db(settings.database_url)
        async with AsyncExitStack() as stack:
            for ref in SERVICES:
                factory: Callable[[Settings], Awaitable[None]] = _load(ref)
                await stack.enter_async_context(factory(settings))  # type: ignore[arg-type]
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
    for ref in ROUTERS:
        app.include_router(_load(ref), dependencies=[Depends(hygiene.check_parameters)])
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
