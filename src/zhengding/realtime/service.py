"""App lifespan service: this node's gateway, its broker, and the after-commit sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from zhengding.config import Settings
from zhengding.core import events
from zhengding.realtime import gateway as gateway_mod
from zhengding.realtime.gateway import Gateway


@asynccontextmanager
async def realtime_service(settings: Settings) -> AsyncIterator[Gateway]:
    gateway = Gateway(
        redis_url=settings.redis_url,
        node_id=gateway_mod.node_id_of(settings),
        retention=settings.realtime_retention_seconds,
        max_events=settings.realtime_max_events,
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
async def publisher_service(settings: Settings) -> AsyncIterator[Gateway | None]:
    """For worker processes: publish committed events through Redis (no sockets of their own).

    Without Redis there is nobody to reach from another process: events stay with the server's
    in-process worker, which is the default deployment without Redis.
    """
    if not settings.redis_url:
        yield None
        return
    gateway = Gateway(
        redis_url=settings.redis_url,
        node_id=gateway_mod.node_id_of(settings),
        publish_only=True,
        retention=settings.realtime_retention_seconds,
    )
    await gateway.start()
    events.add_sink(gateway.sink)
    try:
        yield gateway
    finally:
        events.remove_sink(gateway.sink)
        await gateway.stop()
