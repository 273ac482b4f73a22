"""Scheduled jobs on the outbox: once per schedule slot across any number of nodes.

A schedule is a handler name and a period. Every worker round computes the current slot of
each schedule (the period's start, from the one clock) and inserts the outbox row
"job:<name>:<slot>" with INSERT … ON CONFLICT DO NOTHING on the unique `dedupe_key`: however
many nodes race, one row per slot exists, and the ordinary claim/retry/dead-letter path runs
it once. A slot missed while no worker ran is not replayed (the next slot runs): jobs are
sweeps ("find overdue items"), not per-slot obligations.

Domains declare their handlers and schedules in their manifests; every process (app, worker,
CLI) installs the same list (zhengding/domains.py), so a separate worker knows them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult

from zhengding.core.clock import now
from zhengding.core.db import Database
from zhengding.core.ids import new_id
from zhengding.core.outbox import PENDING, OutboxRow

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    name: str  # the outbox handler to run
    every: timedelta
    payload: dict[str, Any] | None = None


_schedules: dict[str, Schedule] = {}
_attempted: dict[str, datetime] = {}  # per schedule, the last slot this process inserted or found


def schedule(name: str, *, every: timedelta, payload: dict[str, Any] | None = None) -> None:
    """Run the outbox handler `name` once per `every` (aligned to a fixed epoch)."""
    if every < timedelta(seconds=1):
        raise ValueError("schedule period under one second")
    _schedules[name] = Schedule(name, every, payload)


def unschedule(name: str) -> None:
    _schedules.pop(name, None)
    _attempted.pop(name, None)


def schedules() -> dict[str, Schedule]:
    return dict(_schedules)


def slot_start(every: timedelta, at: datetime) -> datetime:
    n = (at - _EPOCH) // every
    return _EPOCH + n * every


async def enqueue_due(db: Database) -> int:
    """Insert this slot's row of every schedule unless a node already did; returns rows inserted."""
    if not _schedules:
        return 0
    at = now()
    rows = []
    for s in _schedules.values():
        start = slot_start(s.every, at)
        if _attempted.get(s.name) == start:
            continue  # this node already saw the slot's row in place
        rows.append(
            {
                "id": new_id(),
                "handler": s.name,
                "payload": {**(s.payload or {}), "slot": start.isoformat()},
                "status": PENDING,
                "attempts": 0,
                "available_at": start,
                "created_at": at,
                "dedupe_key": f"job:{s.name}:{start.isoformat()}",
            }
        )
    if not rows:
        return 0
    async with db.unit_of_work() as session:
        dialect = postgresql if not db.sqlite else sqlite
        stmt = dialect.insert(OutboxRow).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
        result = await session.execute(stmt)
    for row in rows:
        _attempted[str(row["handler"])] = datetime.fromisoformat(cast(dict[str, str], row["payload"])["slot"])
    return max(cast(CursorResult[Any], result).rowcount or 0, 0)
