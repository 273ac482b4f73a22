from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from zhengding.authz.actor import Actor
from zhengding.http.deps import current_actor
from zhengding.http.routing import make_router

router = make_router("/api/toy", tags=["玩具"])


@router.get("/ping")
async def ping(actor: Annotated[Actor, Depends(current_actor)]) -> dict[str, str]:
    return {"pong": actor.user_id}
