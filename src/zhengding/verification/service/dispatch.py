"""Dispatch down the tree (派发/下发): one task, a selection, or a whole batch's tasks held by
the actor's units; to a named unit, to a named grid worker, or "by clue" to the deepest unit
the clue resolved to. Deadlines per task (given here) or per batch.

Rules: the target lies strictly below the task's holder (or is the holder itself when a grid
worker of it is named) and inside the actor's dispatch scope; a task being transferred, replied
or closed is not dispatched. A named grid worker must be a member of the target's subtree; the
task is then held by the worker's unit. Each task's chain gains the units it passes through.
Tasks that cannot go are reported per task, the others go: set-based updates, one history row
per task, one notification per receiving unit / worker.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core.clock import now
from zhengding.core.errors import ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.verification import repository as repo
from zhengding.verification.cells import Deltas
from zhengding.verification.enums import EventKind, TaskStatus
from zhengding.verification.models import VerificationTask
from zhengding.verification.permissions import DISPATCH
from zhengding.verification.service.common import (
    bulk_update_tasks,
    event_row,
    grant_unit_ids,
    insert_events,
)

DISPATCHABLE = (TaskStatus.PENDING, TaskStatus.DISPATCHED, TaskStatus.IN_PROGRESS)
MAX_TASKS = 50_000


async def _select_tasks(
    session: AsyncSession, actor: Actor, task_ids: list[str] | None, batch_id: str | None
) -> list[VerificationTask]:
    if task_ids:
        if len(task_ids) > MAX_TASKS:
            raise ValidationFailed(f"一次最多派发 {MAX_TASKS} 条")
        return await repo.tasks_for_update(session, task_ids)
    if not batch_id:
        raise ValidationFailed("请选择任务或批次", [field_error("task_ids", "必填")])
    # A whole batch: the tasks waiting at the actor's own units.
    stmt = (
        repo.tasks_in_scope(actor, DISPATCH)
        .where(
            VerificationTask.batch_id == batch_id,
            VerificationTask.owner_unit_id.in_(grant_unit_ids(actor, DISPATCH)),
            VerificationTask.status.in_([TaskStatus.PENDING, TaskStatus.DISPATCHED]),
            VerificationTask.transfer_id.is_(None),
        )
        .limit(MAX_TASKS)
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def dispatch_tasks(
    session: AsyncSession,
    actor: Actor,
    *,
    task_ids: list[str] | None = None,
    batch_id: str | None = None,
    unit_id: str | None = None,
    user_id: str | None = None,
    by_clue: bool = False,
    deadline: datetime | None = None,
) -> dict[str, Any]:
    if not by_clue and not unit_id:
        raise ValidationFailed("请选择派发对象（单位、网格员或按线索）", [field_error("unit_id", "必填")])
    target: OrgUnit | None = None
    worker_unit: OrgUnit | None = None
    if unit_id:
        target = await org_service.access_unit(session, actor, unit_id, DISPATCH)
    if user_id:
        if target is None:
            raise ValidationFailed("指定网格员时须同时选择其所在单位", [field_error("unit_id", "必填")])
        worker_unit = await repo.membership_unit(session, user_id, target.path)
        if worker_unit is None:
            raise ValidationFailed(
                "所选人员不是该单位（含下级）的成员", [field_error("user_id", "不在该单位")]
            )
    if deadline is not None and deadline <= now():
        raise ValidationFailed("办理期限应晚于当前时间", [field_error("deadline", "期限已过")])

    tasks = await _select_tasks(session, actor, task_ids, batch_id)
    clue_units: dict[str, OrgUnit] = {}
    if by_clue and not target:
        clue_units = await repo.units_by_ids(session, [t.clue_unit_id for t in tasks if t.clue_unit_id])
    at = now()
    skipped: list[dict[str, str]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    deltas = Deltas()
    unit_counts: Counter[str] = Counter()
    found = {t.id for t in tasks}
    for missing in [i for i in (task_ids or []) if i not in found]:
        skipped.append({"task_id": missing, "reason": "任务不存在或无权操作"})
    for task in tasks:
        if not in_scope(actor, DISPATCH, path=task.owner_path):
            skipped.append({"task_id": task.id, "reason": "任务不存在或无权操作"})
            continue
        if task.transfer_id:
            skipped.append({"task_id": task.id, "reason": "任务正在转办中"})
            continue
        if task.status not in DISPATCHABLE:
            skipped.append({"task_id": task.id, "reason": "任务已回单或已办结，不能派发"})
            continue
        dest = target or clue_units.get(task.clue_unit_id or "")
        if dest is None:
            skipped.append({"task_id": task.id, "reason": "线索无法定位到具体单位，请手工选择"})
            continue
        if not dest.path.startswith(task.owner_path) or (
            dest.path == task.owner_path and worker_unit is None
        ):
            skipped.append({"task_id": task.id, "reason": "只能派发给当前承办单位的下级"})
            continue
        if not in_scope(actor, DISPATCH, path=dest.path):
            skipped.append({"task_id": task.id, "reason": "目标单位不在您的管辖范围内"})
            continue
        holder = worker_unit or dest
        chain = list(task.chain)
        for unit in (dest, worker_unit):
            if unit is not None and unit.id not in chain:
                chain.append(unit.id)
        status = TaskStatus.IN_PROGRESS if worker_unit else TaskStatus.DISPATCHED
        overdue = task.overdue and not (deadline and deadline > at)
        if task.overdue:
            deltas.add_path(task.owner_path, task.batch_id, task.stat_day, "overdue", -1)
        deltas.move(task.owner_path, task.status, holder.path, status, task.batch_id, task.stat_day)
        if overdue:
            deltas.add_path(holder.path, task.batch_id, task.stat_day, "overdue", 1)
        kind = EventKind.ASSIGNED if worker_unit else EventKind.DISPATCHED
        events.append(
            event_row(
                task,
                kind,
                actor,
                at=at,
                from_unit_id=task.owner_unit_id,
                to_unit_id=holder.id,
                to_user_id=user_id,
                detail={"deadline": deadline.isoformat()} if deadline else None,
            )
        )
        updates.append(
            {
                "id": task.id,
                "owner_unit_id": holder.id,
                "owner_path": holder.path,
                "assignee_id": user_id if worker_unit else None,
                "chain": chain,
                "status": str(status),
                "deadline": deadline or task.deadline,
                "overdue": overdue,
                "version": task.version,
            }
        )
        unit_counts[holder.id] += 1
    await bulk_update_tasks(
        session,
        updates,
        ["owner_unit_id", "owner_path", "assignee_id", "chain", "status", "deadline", "overdue", "version"],
    )
    for task in tasks:
        session.expire(task)
    await insert_events(session, events)
    await deltas.apply(session)
    if updates:
        await _notify(session, actor, unit_counts, user_id, len(updates))
        audit.record(
            session,
            actor,
            "verification.tasks.dispatched",
            target_type="org_unit",
            target_id=target.id if target else None,
            detail={
                "count": len(updates),
                "skipped": len(skipped),
                "by_clue": by_clue,
                "user_id": user_id,
                "batch_id": batch_id,
            },
        )
    return {"dispatched": len(updates), "skipped": skipped}


async def _notify(
    session: AsyncSession, actor: Actor, unit_counts: Counter[str], user_id: str | None, total: int
) -> None:
    if user_id:
        await inbox.notify_users(
            session,
            [user_id],
            kind="verification",
            title=f"您有 {total} 条新的核查任务",
            body="请尽快核查并回单。",
            link="/verification",
            object_type="verification_task",
            sender_id=actor.user_id,
        )
        publish_event(session, "verification.task.assigned", {"count": total}, users=[user_id])
        return
    for unit_id, n in unit_counts.items():
        members = await org_service.member_user_ids(session, [unit_id], subtree=False)
        await inbox.notify_users(
            session,
            [m for m in members if m != actor.user_id],
            kind="verification",
            title=f"收到核查任务 {n} 条",
            body=f"{actor.name}向本单位派发了 {n} 条核查任务。",
            link="/verification/tasks",
            object_type="verification_task",
            sender_id=actor.user_id,
        )
    publish_event(
        session, "verification.task.dispatched", {"counts": dict(unit_counts)}, units=list(unit_counts)
    )


async def assignable_people(session: AsyncSession, actor: Actor, unit_id: str) -> list[dict[str, Any]]:
    """Active members of a unit's subtree a task can be assigned to (for the dispatch dialog).
    Accounts never activated (or disabled) are left out: they could not open the task."""
    from zhengding.accounts.enums import UserStatus
    from zhengding.accounts.models import User
    from zhengding.orgs.models import Membership

    unit = await org_service.access_unit(session, actor, unit_id, DISPATCH)
    rows = (
        await session.execute(
            select(User.id, User.name, OrgUnit.id, OrgUnit.name, Membership.position)
            .join(Membership, Membership.user_id == User.id)
            .join(OrgUnit, OrgUnit.id == Membership.unit_id)
            .where(OrgUnit.path.startswith(unit.path, autoescape=True), User.status == UserStatus.ACTIVE)
            .order_by(OrgUnit.path, User.name)
            .limit(500)
        )
    ).all()
    return [
        {"id": uid, "name": name, "unit_id": u, "unit_name": un, "position": pos}
        for uid, name, u, un, pos in rows
    ]
