"""Workbench tiles and to-dos of the returnee domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.permissions import HANDLE, READ, ROUTE, STATS
from zhengding.workbench.service import App, Todo, register_app, register_todo


async def _to_acknowledge(session: AsyncSession, actor: Actor) -> int:
    from zhengding.returnees.service.access import status_counts_for_todo

    return await status_counts_for_todo(session, actor, [ReturneeStatus.DISPATCHED])


async def _to_route(session: AsyncSession, actor: Actor) -> int:
    from zhengding.returnees.service.access import status_counts_for_todo

    return await status_counts_for_todo(session, actor, [ReturneeStatus.ROUTING])


register_app(App("returnees", "返乡人员", "location", "/returnees", READ))
register_app(App("returnees-stats", "返乡统计", "chart", "/returnees/stats", STATS))
register_todo(Todo("returnees.acknowledge", "返乡人员待签收", "/returnees", HANDLE, _to_acknowledge))
register_todo(Todo("returnees.route", "返乡人员待分派", "/returnees/routing", ROUTE, _to_route))
