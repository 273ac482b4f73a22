"""Workbench to-do counter (my open supervised items) and the attachment policy of items
(whoever may see an item may download its attachments), declared in supervision/manifest.py."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.supervision import repository as repo
from zhengding.supervision.service import boards


async def open_items(session: AsyncSession, actor: Actor) -> int:
    return await boards.open_todo_count(session, actor)


async def may_see_item(session: AsyncSession, actor: Actor, item_id: str) -> bool:
    return await repo.visible_item(session, actor, item_id) is not None
