"""Workbench integration: the app tile and the to-do counter (my open supervised items).
File download policy: attachments of an item are downloadable by whoever may see the item."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core import files
from zhengding.supervision import repository as repo
from zhengding.supervision.permissions import WORK
from zhengding.supervision.service import boards
from zhengding.workbench.service import APPS, TODOS, App, Todo, register_app, register_todo


async def _open_items(session: AsyncSession, actor: Actor) -> int:
    return await boards.open_todo_count(session, actor)


async def _may_see_item(session: AsyncSession, actor: Actor, item_id: str) -> bool:
    return await repo.visible_item(session, actor, item_id) is not None


if not any(a.key == "supervision" for a in APPS):
    register_app(App("supervision", "督办", "supervision", "/supervision", WORK))
if not any(t.key == "supervision_open" for t in TODOS):
    register_todo(Todo("supervision_open", "待办督办事项", "/supervision", WORK, _open_items))
files.register_owner("supervision.item", _may_see_item)
