"""Real-time routes: the WebSocket (`/ws`) and presence."""

from __future__ import annotations

from fastapi import Depends, Query
from starlette.routing import WebSocketRoute

from zhengding.authz.actor import Actor
from zhengding.core.errors import ValidationFailed
from zhengding.http.deps import current_actor
from zhengding.http.routing import make_router
from zhengding.realtime import gateway as gateway_mod
from zhengding.realtime.endpoint import endpoint

router = make_router("/api/realtime", tags=["实时推送"])


@router.get("/presence")
async def presence(
    user_ids: str = Query(..., description="逗号分隔的用户 id，最多 500 个"),
    actor: Actor = Depends(current_actor),
) -> dict[str, list[str]]:
    ids = [u for u in user_ids.split(",") if u][:501]
    if len(ids) > 500:
        raise ValidationFailed("一次最多查询 500 人")
    gateway = gateway_mod.current()
    online = await gateway.online(ids) if gateway else set()
    return {"online": [u for u in ids if u in online]}


ws_router = make_router()
ws_router.routes.append(WebSocketRoute("/ws", endpoint, name="realtime"))
