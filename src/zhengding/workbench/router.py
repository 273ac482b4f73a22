from __future__ import annotations

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.http.deps import current_actor, get_session
from zhengding.http.routing import make_router
from zhengding.workbench import service

router = make_router("/api", tags=["工作台"])


@router.get("/workbench")
async def workbench(
    actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict:
    return await service.workbench(session, actor)
