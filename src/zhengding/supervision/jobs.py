"""Outbox handlers and schedules of the supervision domain (imported by every worker).

"supervision.sweep" runs every minute: create the current period's instances of recurring
requests, send the reminders that are due, flag and escalate overdue owners. Each step is
idempotent (state recorded on the rows it touches), so a slot run twice does nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core import jobs, outbox
from zhengding.notify import jobs as notify_jobs  # noqa: F401  (the SMS escalation handler)
from zhengding.supervision import permissions  # noqa: F401
from zhengding.supervision.service import recurring, reminders

SWEEP = "supervision.sweep"


@outbox.handler(SWEEP)
async def sweep(session: AsyncSession, payload: dict[str, Any] | None = None) -> None:
    await run_sweep(session)


async def run_sweep(session: AsyncSession) -> dict[str, int]:
    created = await recurring.create_due_instances(session)
    await session.flush()
    reminded = await reminders.send_due_reminders(session)
    overdue = await reminders.escalate_overdue(session)
    return {"instances": created, "reminded": reminded, "overdue": overdue}


jobs.schedule(SWEEP, every=timedelta(minutes=1))
