"""App lifespan service: this node's gateway, its broker, and the after-commit sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from zhengding.core import events
from zhengding.realtime import gateway as gateway_mod
from zhengding.realtime.gateway import Gateway


@asynccontextmanager
async def realtime_service(settings: Any) -> AsyncIterator[Gateway]:
    gateway = Gateway(
        redis_url=getattr(settings, "redis_url", None),
        node_id=gateway_mod.node_id_from_env(),
        retention=gateway_mod.retention_from_env(),
        max_events=int(os.environ.get("ZD_REALTIME_MAX_EVENTS") or 1000),
    )
    await gateway.start()
    gateway_mod.set_current(gateway)
    events.add_sink(gateway.sink)
    try:
        yield gateway
    finally:
        events.remove_sink(gateway.sink)
        gateway_mod.set_current(None)
        await gateway.stop()


@asynccontextmanager
async def publisher_service(redis_url: str | None) -> AsyncIterator[Gateway | None]:
    """For worker processes: publish committed events through Redis (no sockets of their own).

    Without Redis there is nobody to reach from another process: events stay with the server's
    in-process worker, which is the default deployment without Redis.
    """
    if not redis_url:
        yield None
        return
    gateway = Gateway(
        redis_url=redis_url,
        node_id=gateway_mod.node_id_from_env(),
        publish_only=True,
        retention=gateway_mod.retention_from_env(),
    )
    await gateway.start()
    events.add_sink(gateway.sink)
    try:
        yield gateway
    finally:
        events.remove_sink(gateway.sink)
        await gateway.stop()
