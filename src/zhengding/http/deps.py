"""FastAPI dependencies: the request's session and its actor (authorised by the route matrix)."""

from __future__ import annotations

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.service import sessions as session_service
from zhengding.authz.actor import Actor
from zhengding.authz.matrix import permission_for
from zhengding.core.errors import Forbidden, Unauthenticated


async def get_session(request: Request) -> AsyncSession:
    # async: a plain `def` dependency would cost every request a hop through the thread pool
    return request.state.session  # opened by UnitOfWorkRoute


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def _resolve(request: Request, session: AsyncSession, *, allow_mfa_pending: bool) -> Actor:
    token = bearer_token(request)
    if not token:
        raise Unauthenticated()
    actor = await session_service.authenticate(
        session,
        token,
        ip=request.state.client_ip,
        request_id=request.state.request_id,
        allow_mfa_pending=allow_mfa_pending,
    )
    return actor


async def current_actor(request: Request, session: AsyncSession = Depends(get_session)) -> Actor:
    """The authenticated actor, holding the permission the route matrix names for this route."""
    required = permission_for(request.method, request.scope["route"].path)
    actor = await _resolve(request, session, allow_mfa_pending=required == "mfa_pending")
    request.state.actor = actor
    if required not in ("authenticated", "mfa_pending") and not actor.can(required):
        request.state.required_permission = required  # audited with the refusal (http/refusals.py)
        raise Forbidden()
    return actor


async def signed_in_actor(request: Request, session: AsyncSession = Depends(get_session)) -> Actor:
    """Any signed-in user, TOTP step done: for the routes outside the route matrix whose rule
    depends on the settings (the API document outside demo mode, http/docs.py)."""
    actor = await _resolve(request, session, allow_mfa_pending=False)
    request.state.actor = actor
    return actor
