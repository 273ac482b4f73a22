"""Scheduled job "verification.overdue.mark" (every minute): flag the open tasks whose deadline
has passed (and unflag those whose deadline was extended), keeping the overdue counters of the
summary cells current; the holding units get one notification each. Idempotent: a task is
flagged once; the set-based UPDATE repeats nothing when rerun."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core.clock import now
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.verification.cells import Deltas
from zhengding.verification.enums import EventKind, TaskStatus
from zhengding.verification.models import VerificationTask
from zhengding.verification.service.common import bulk_update_tasks, event_row, insert_events

OVERDUE_JOB = "verification.overdue.mark"
LIMIT = 20_000
WORKING = [TaskStatus.PENDING, TaskStatus.DISPATCHED, TaskStatus.IN_PROGRESS]


async def mark_overdue(session: AsyncSession) -> int:
    at = now()
    t = VerificationTask
    cols = (t.id, t.version, t.owner_path, t.owner_unit_id, t.batch_id, t.stat_day)
    late = (
        await session.execute(
            select(*cols)
            .where(t.overdue.is_(False), t.deadline < at, t.status.in_(WORKING))
            .limit(LIMIT)
            .with_for_update()
        )
    ).all()
    back = (
        await session.execute(
            select(*cols)
            .where(t.overdue.is_(True), (t.deadline >= at) | t.deadline.is_(None) | t.status.not_in(WORKING))
            .limit(LIMIT)
            .with_for_update()
        )
    ).all()
    deltas = Deltas()
    updates: list[dict[str, Any]] = []
    events = []
    units: Counter[str] = Counter()
    for task_id, version, path, unit_id, batch_id, day in late:
        state = {"id": task_id, "version": version}
        events.append(event_row(state, EventKind.OVERDUE, None, at=at, to_unit_id=unit_id))
        updates.append({"id": task_id, "overdue": True, "version": state["version"]})
        deltas.add_path(path, batch_id, day, "overdue")
        units[unit_id] += 1
    for task_id, version, path, _unit, batch_id, day in back:
        updates.append({"id": task_id, "overdue": False, "version": version})
        deltas.add_path(path, batch_id, day, "overdue", -1)
    await bulk_update_tasks(session, updates, ["overdue", "version"])
    await insert_events(session, events)
    await deltas.apply(session)
    for unit_id, n in units.items():
        members = await org_service.member_user_ids(session, [unit_id], subtree=False)
        await inbox.notify_users(
            session,
            members,
            kind="verification",
            title=f"{n} 条核查任务已逾期",
            body="请尽快督促核查并回单。",
            link="/verification/tasks?overdue=1",
        )
    return len(late)


async def overdue_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    await mark_overdue(session)
