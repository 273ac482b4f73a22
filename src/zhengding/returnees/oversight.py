"""Live oversight: whenever the summary counters change (`stats_table.bump` / `upsert`), the
command units above the holding unit hear of it after commit, and a returnee leaving a manual-
routing queue is announced to that queue's staff.

Who is notified:
- "returnees.stats.changed" → the members of each command unit on the holding unit's path
  (province, city/county, district, town; the holding unit itself when it is a queue) whose
  role there carries returnees.stats: the units' own members, not their subtrees (a member
  without that role, e.g. an administrator, hears nothing). One event per command unit per
  transaction: the events published per change are merged before commit (`_coalesce`). No
  personal data: {unit_id, counters: {counter: net change}, days: [arrival days], paths:
  [holding units' paths]}; a dashboard refetches when a path lies under the unit it shows.
- "returnees.returnee.dequeued" {id, from_unit_id} → the queue unit's members whose role there
  carries returnees.route, whenever the routing counter of a returnee goes down there (routed
  by a colleague, or any other path that takes it out of the queue): their queue pages drop it.

The staff are looked up in the write transaction with one query for whatever units a change
brings that were not looked up yet, and kept for the transaction and STAFF_TTL seconds beyond
(the inbound path commits many small groups; an officer given a command role hears of the
counters at most that much later).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.roles import ROLES
from zhengding.core.db import add_before_commit_hook
from zhengding.core.events import Event, publish_event
from zhengding.returnees import repository as repo
from zhengding.returnees.permissions import ROUTE, STATS

STATS_CHANGED = "returnees.stats.changed"
DEQUEUED = "returnees.returnee.dequeued"
_STAFF = "returnees.command_staff"  # session.info: unit id → [(member, role at the unit)] (commands only)
# The same across transactions for a few seconds: the inbound path commits many small groups and
# the command units' staff hardly change (a new officer hears of the counters STAFF_TTL later).
STAFF_TTL = 10.0
_recent: dict[str, tuple[float, list[tuple[str, str]]]] = {}


@dataclass(frozen=True)
class Change:
    """Deltas of one summary row: the holding unit, whether it is a routing queue (a command)
    rather than a village, the arrival day, and the counters' deltas."""

    unit_id: str
    unit_path: str
    is_queue: bool
    day: str
    deltas: dict[str, int]
    returnee_id: str | None = None


def _command_ids(change: Change) -> list[str]:
    # Every unit above a village or a queue is a command; the holder only when it is a queue.
    ids = [part for part in change.unit_path.split("/") if part]
    return ids if change.is_queue else ids[:-1]


async def _staff(session: AsyncSession, unit_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    cache: dict[str, list[tuple[str, str]]] = session.info.setdefault(_STAFF, {})
    wanted = {u for u in unit_ids if u not in cache}
    clock = time.monotonic()
    for unit_id in list(wanted):
        hit = _recent.get(unit_id)
        if hit is not None and hit[0] > clock:
            cache[unit_id] = hit[1]
            wanted.discard(unit_id)
    if wanted:
        missing = sorted(wanted)
        found = await repo.command_staff(session, missing)
        if len(_recent) > 50_000:
            _recent.clear()
        for unit_id in missing:
            cache[unit_id] = found.get(unit_id, [])
            _recent[unit_id] = (clock + STAFF_TTL, cache[unit_id])
    return cache


def forget_staff() -> None:
    """Drop the cached staff of the command units (tests; after a bulk change of roles)."""
    _recent.clear()


def _holding(staff: list[tuple[str, str]], permission: str) -> list[str]:
    """The staff whose role at the unit carries the permission (roles read now: domains extend them at import)."""
    return list(dict.fromkeys(user for user, role in staff if permission in ROLES[role].permissions))


async def prefetch(session: AsyncSession, changes: Iterable[Change]) -> None:
    """Look up the members of every command above these holders at once (a job touching many)."""
    await _staff(session, {u for c in changes for u in _command_ids(c)})


async def note_changes(session: AsyncSession, changes: list[Change]) -> None:
    if not changes:
        return
    units = {u for c in changes for u in _command_ids(c)}
    staff = await _staff(session, units)
    watchers = {u: _holding(staff[u], STATS) for u in units}
    per_unit: dict[str, dict[str, Any]] = {}
    for c in changes:
        for unit_id in _command_ids(c):
            if not watchers[unit_id]:
                continue
            entry = per_unit.setdefault(unit_id, {"counters": {}, "days": set(), "paths": set()})
            for counter, delta in c.deltas.items():
                if delta:
                    entry["counters"][counter] = entry["counters"].get(counter, 0) + delta
            entry["days"].add(c.day)
            entry["paths"].add(c.unit_path)
        if c.is_queue and c.returnee_id and c.deltas.get("routing", 0) < 0:
            routers = _holding(staff[c.unit_id], ROUTE)
            if routers:
                publish_event(
                    session, DEQUEUED, {"id": c.returnee_id, "from_unit_id": c.unit_id}, users=routers
                )
    for unit_id, entry in per_unit.items():
        publish_event(
            session,
            STATS_CHANGED,
            {
                "unit_id": unit_id,
                "counters": entry["counters"],
                "days": sorted(entry["days"]),
                "paths": sorted(entry["paths"]),
            },
            users=watchers[unit_id],
        )


def _merge(first: Event, other: Event) -> Event:
    a, b = first.payload, other.payload
    counters = dict(a["counters"])
    for counter, delta in b["counters"].items():
        counters[counter] = counters.get(counter, 0) + delta
    payload = {
        "unit_id": a["unit_id"],
        "counters": counters,
        "days": sorted({*a["days"], *b["days"]}),
        "paths": sorted({*a["paths"], *b["paths"]}),
    }
    return dataclasses.replace(
        first, payload=payload, user_ids=tuple(dict.fromkeys(first.user_ids + other.user_ids))
    )


async def _coalesce(session: AsyncSession) -> None:
    """One "returnees.stats.changed" per command unit per transaction. The per-change events
    sit in the session's event list until now, so a rolled-back SAVEPOINT (which trims that
    list) takes its changes with it."""
    events: list[Event] | None = session.info.get("events")
    if not events or sum(1 for e in events if e.type == STATS_CHANGED) < 2:
        return
    out: list[Event] = []
    first_at: dict[str, int] = {}
    for event in events:
        if event.type != STATS_CHANGED:
            out.append(event)
            continue
        unit_id = event.payload["unit_id"]
        at = first_at.get(unit_id)
        if at is None:
            first_at[unit_id] = len(out)
            out.append(event)
        else:
            out[at] = _merge(out[at], event)
    session.info["events"] = out


add_before_commit_hook(_coalesce)
