"""Workbench tiles and to-dos of key-person verification."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.verification import permissions as perms
from zhengding.verification import repository as repo
from zhengding.verification.enums import TaskStatus
from zhengding.verification.models import VerificationTask
from zhengding.verification.service.tasks import review_queue
from zhengding.workbench.service import App, Todo, register_app, register_todo


async def _my_tasks(session: AsyncSession, actor: Actor) -> int:
    stmt = repo.tasks_in_scope(actor, perms.REPLY).where(
        VerificationTask.assignee_id == actor.user_id, VerificationTask.status == TaskStatus.IN_PROGRESS
    )
    return await repo.count(session, stmt)


async def _reviews(session: AsyncSession, actor: Actor) -> int:
    stmt = review_queue(repo.tasks_in_scope(actor, perms.REVIEW), actor)
    return await repo.count(session, stmt)


async def _transfers(session: AsyncSession, actor: Actor) -> int:
    return await repo.pending_transfer_count(session, actor, perms.TRANSFER)


register_app(App("verification", "重点人员核查", "search", "/verification", perms.READ))
register_todo(Todo("verification.mine", "待核查任务", "/verification", perms.REPLY, _my_tasks))
register_todo(Todo("verification.review", "待审核回单", "/verification/review", perms.REVIEW, _reviews))
register_todo(
    Todo("verification.transfers", "待接收转办", "/verification/transfers", perms.TRANSFER, _transfers)
)
