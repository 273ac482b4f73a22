"""Outbox handlers of the returnee domain (declared with their schedules in the manifest).

- "returnees.overdue.sweep" (every 5 minutes): overdue acknowledgements and check-ins, reminders,
  escalation to the town;
- "returnees.nonces.prune" (every 10 minutes): inbound nonces past the replay window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.returnees.service import inbound, overdue


async def sweep(session: AsyncSession, _: dict[str, Any]) -> None:
    await overdue.sweep_overdue(session)


async def prune(session: AsyncSession, _: dict[str, Any]) -> None:
    await inbound.prune_nonces(session)
