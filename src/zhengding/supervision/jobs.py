"""Outbox handlers of the supervision domain (declared with their schedule in the manifest).

"supervision.sweep" runs every minute: create the current period's instances of recurring
requests, send the reminders that are due, flag and escalate overdue owners. Each step is
idempotent (state recorded on the rows it touches), so a slot run twice does nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.supervision.service import recurring, reminders

SWEEP = "supervision.sweep"


async def sweep(session: AsyncSession, payload: dict[str, Any] | None = None) -> None:
    await run_sweep(session)


async def run_sweep(session: AsyncSession) -> dict[str, int]:
    created = await recurring.create_due_instances(session)
    await session.flush()
    reminded = await reminders.send_due_reminders(session)
    overdue = await reminders.escalate_overdue(session)
    return {"instances": created, "reminded": reminded, "overdue": overdue}
