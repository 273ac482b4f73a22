"""Route class that wraps each endpoint in one unit of work.

The transaction commits before the response object is returned to the server, so a 2xx is
never sent for a write that did not commit. An AppError marked `commit_anyway` (a failed
login that must count, an audited refusal) commits what was recorded, then answers the error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from zhengding.audit.service import RequestInfo, set_request_info
from zhengding.core.db import get_db
from zhengding.core.errors import AppError

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            db = get_db()
            session = db.new_session(readonly=request.method in _READ_METHODS)
            request.state.session = session
            set_request_info(session, RequestInfo(ip=client_ip(request), request_id=request.state.request_id))
            try:
                response = await handler(request)
                await db.commit(session)
                return response
            except AppError as exc:
                if getattr(exc, "commit_anyway", False):
                    session.info.pop("events", None)
                    await db.commit(session)
                else:
                    await session.rollback()
                raise
            except BaseException:
                await session.rollback()
                raise
            finally:
                await session.close()

        return run


def make_router(prefix: str = "", tags: list[str | Enum] | None = None) -> APIRouter:
    return APIRouter(prefix=prefix, tags=tags or [], route_class=UnitOfWorkRoute)


def client_ip(request: Request) -> str | None:
    """The audited client address, as the middleware settled it (ZD_TRUSTED_PROXIES)."""
    ip: str | None = request.state.client_ip
    return ip
