"""Workbench to-do counters of the returnee domain (declared in returnees/manifest.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.returnees.enums import ReturneeStatus


async def to_acknowledge(session: AsyncSession, actor: Actor) -> int:
    from zhengding.returnees.service.access import status_counts_for_todo

    return await status_counts_for_todo(session, actor, [ReturneeStatus.DISPATCHED])


async def to_route(session: AsyncSession, actor: Actor) -> int:
    from zhengding.returnees.service.access import status_counts_for_todo

    return await status_counts_for_todo(session, actor, [ReturneeStatus.ROUTING])
