"""Realtime (实时推送): the WebSocket gateway and the broker fan-out across nodes."""

from __future__ import annotations

from zhengding.core.manifest import Manifest, Plug

manifest = Manifest(
    name="realtime",
    label="实时推送",
    routers=(
        Plug("zhengding.realtime.router:router", order=35),
        Plug("zhengding.realtime.router:ws_router", order=36),
    ),
    services=(Plug("zhengding.realtime.service:realtime_service", order=20),),
)
