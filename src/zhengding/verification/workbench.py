"""Workbench to-do counters of key-person verification (declared in verification/manifest.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.verification import permissions as perms
from zhengding.verification import repository as repo
from zhengding.verification.enums import TaskStatus
from zhengding.verification.models import VerificationTask
from zhengding.verification.service.tasks import review_queue


async def my_tasks(session: AsyncSession, actor: Actor) -> int:
    stmt = repo.tasks_in_scope(actor, perms.REPLY).where(
        VerificationTask.assignee_id == actor.user_id, VerificationTask.status == TaskStatus.IN_PROGRESS
    )
    return await repo.count(session, stmt)


async def reviews(session: AsyncSession, actor: Actor) -> int:
    stmt = review_queue(repo.tasks_in_scope(actor, perms.REVIEW), actor)
    return await repo.count(session, stmt)


async def transfers(session: AsyncSession, actor: Actor) -> int:
    return await repo.pending_transfer_count(session, actor, perms.TRANSFER)
