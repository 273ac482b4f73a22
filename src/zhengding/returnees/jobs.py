"""Outbox handlers and schedules of the returnee domain.

- "returnees.overdue.sweep" (every 5 minutes): overdue acknowledgements and check-ins, reminders,
  escalation to the town;
- "returnees.nonces.prune" (every 10 minutes): inbound nonces past the replay window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core import jobs, outbox
from zhengding.returnees import permissions  # noqa: F401
from zhengding.returnees.service import inbound, overdue


@outbox.handler("returnees.overdue.sweep")
async def sweep(session: AsyncSession, _: dict[str, Any]) -> None:
    await overdue.sweep_overdue(session)


@outbox.handler("returnees.nonces.prune")
async def prune(session: AsyncSession, _: dict[str, Any]) -> None:
    await inbound.prune_nonces(session)


jobs.schedule("returnees.overdue.sweep", every=timedelta(minutes=5))
jobs.schedule("returnees.nonces.prune", every=timedelta(minutes=10))
