"""Statistics (统计): by unit (drill-down from province to village), by batch, by import day,
from the summary cells only — a request reads a few cell rows per unit, never the task table.

`unit_stats` → {unit: row, children: [row]}; `batch_stats` → rows per batch for a unit;
`daily_stats` → rows per import day. A row carries the count per status, transfers in/out/
rejected, completion rate (closed / total) and the median time to reply (from the buckets).

Shared reads (a provincial command room: many officials watching the same dashboard). In a
read-only session, identical concurrent reads cost one query (`core.singleflight`): the key is
the read after scope resolution — kind, unit id, batch, day window, database — and holds
everything the rows depend on (the rows of a unit are the same for whoever may see them; the
actor's scope only decides WHETHER they may). Each caller still does its own access check
(404 outside scope) and gets its own copy: `batch_stats`/`daily_stats` check the unit before
the read, `unit_stats` on the unit's path read with its rows, before anything is returned. A finished result is also kept for
`ZD_STATS_REUSE_MS` (default 500 ms, at most 2 s, 0 = only concurrent reads share):
- this process's own writes of summary cells end the sharing at once: a commit that wrote
  cells moves `_generation`, which is part of the key, so a read that starts after such a
  commit has returned never sees counts older than it. A session whose transaction began
  before the generation moved may read an older snapshot (SQLite keeps one per transaction):
  it reads for itself and shares nothing;
- writes committed by another process (another node, a worker) are seen by the first read
  that starts more than the window after the commit (the console reloads 1.5 s after a
  live event, past the window).
The shared query runs on the first caller's own session, inside its request: it holds that
connection already, so waiting readers never need a second connection from the pool (a
separate unit of work per shared query could deadlock a small pool, every connection held by
a request waiting for it). A write session never shares: its result may hold its own
uncommitted changes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Select, and_, event, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from zhengding.authz.actor import Actor
from zhengding.authz.scope import ensure_in_scope
from zhengding.config import get_settings
from zhengding.core.clock import now
from zhengding.core.errors import NotFound
from zhengding.core.singleflight import SingleFlight
from zhengding.orgs.models import OrgUnit
from zhengding.verification.cells import COUNTERS, median_seconds
from zhengding.verification.models import StatCell, VerificationBatch
from zhengding.verification.permissions import STATS

# Lean by design (a dashboard is read by many at once): Core selects of plain columns, no ORM
# objects, one statement per endpoint besides the unit check. The unit and its children are
# read with their sums in ONE statement (org_units LEFT JOIN the cells, grouped by unit).
_SUMS = [func.coalesce(func.sum(getattr(StatCell, c)), 0).label(c) for c in COUNTERS]
# Every counter but the internal time-to-reply buckets r0..r9 (which only feed the median).
_SHOWN = [c for c in COUNTERS if not re.fullmatch(r"r\d+", c)]
_BUCKETS = [f"r{i}" for i in range(10)]
_CELLS = StatCell.__tablename__
_MAX_REUSE_MS = 2000

T = TypeVar("T")
_reads: SingleFlight[Any] = SingleFlight(clock=lambda: now().timestamp())
# Moves after every commit in this process that wrote summary cells; part of every key.
_generation = 0


@event.listens_for(Session, "do_orm_execute")
def _note_cell_write(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and getattr(
        getattr(state.statement, "table", None), "name", None
    ) == _CELLS:
        state.session.info["stat_cells_written"] = True


@event.listens_for(Session, "after_begin")
def _note_generation(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info["stats_generation"] = _generation


@event.listens_for(Session, "after_commit")
def _cells_committed(session: Session) -> None:
    if session.info.pop("stat_cells_written", False):
        global _generation
        _generation += 1
        _reads.forget()


async def _shared(session: AsyncSession, key: tuple[Hashable, ...], read: Callable[[], Awaitable[T]]) -> T:
    """`read()` (a query on `session`) shared with identical reads; see the module doc. `key`
    must name everything the result depends on — were the rows ever to depend on the actor's
    scope (not only on the unit), that scope would have to be part of it."""
    generation = _generation
    if not session.info.get("readonly") or session.info.get("stats_generation", generation) != generation:
        return await read()
    reuse_ms = min(max(get_settings().stats_reuse_ms, 0), _MAX_REUSE_MS)
    result: T = await _reads.run(
        (session.get_bind().engine.url, generation, *key), read, keep_for=reuse_ms / 1000
    )
    return result


def _row(values: Any) -> dict[str, Any]:
    """The counters of a result row (a mapping with every COUNTERS key, or None) as shown."""
    v = {c: int(values[c] or 0) for c in COUNTERS} if values is not None else dict.fromkeys(COUNTERS, 0)
    median = median_seconds([v[b] for b in _BUCKETS])
    out: dict[str, Any] = {c: v[c] for c in _SHOWN}
    out["open"] = v["pending"] + v["dispatched"] + v["in_progress"] + v["replied"]
    out["completion_rate"] = round(v["closed"] / v["total"], 4) if v["total"] else 0.0
    out["median_reply_hours"] = round(median / 3600, 2) if median is not None else None
    out["mean_reply_hours"] = (
        round(v["reply_seconds"] / v["reply_count"] / 3600, 2) if v["reply_count"] else None
    )
    return out


def _conditions(batch_id: str | None, day_from: str | None, day_to: str | None) -> list[Any]:
    out = []
    if batch_id:
        out.append(StatCell.batch_id == batch_id)
    if day_from:
        out.append(StatCell.day >= day_from)
    if day_to:
        out.append(StatCell.day <= day_to)
    return out


def _filtered(
    stmt: Select[*tuple[Any, ...]], batch_id: str | None, day_from: str | None, day_to: str | None
) -> Select[*tuple[Any, ...]]:
    conditions = _conditions(batch_id, day_from, day_to)
    return stmt.where(*conditions) if conditions else stmt


def _anchor(actor: Actor, unit_id: str | None) -> tuple[str, str | None]:
    """(unit id, its path when known from the actor's grant — then in scope by construction)."""
    grants = actor.grants_for(STATS)
    if not grants:
        raise NotFound()
    if unit_id is None:
        top = min(grants, key=lambda g: len(g.unit_path))
        return top.unit_id, top.unit_path
    for g in grants:
        if g.unit_id == unit_id:
            return g.unit_id, g.unit_path
    return unit_id, None


async def _unit_in_scope(session: AsyncSession, actor: Actor, unit_id: str | None) -> str:
    """The id of the unit asked for (default: the actor's widest STATS grant); 404 outside scope.
    One indexed lookup of the path only, and none when the unit is a grant's own unit."""
    uid, path = _anchor(actor, unit_id)
    if path is None:
        path = (await session.execute(select(OrgUnit.path).where(OrgUnit.id == uid))).scalar_one_or_none()
        if path is None:
            raise NotFound(kind="org_unit", target_id=uid)
        ensure_in_scope(actor, STATS, kind="org_unit", target_id=uid, path=path)
    return uid


async def default_unit(session: AsyncSession, actor: Actor) -> str:
    return await _unit_in_scope(session, actor, None)


async def unit_stats(
    session: AsyncSession,
    actor: Actor,
    unit_id: str | None = None,
    *,
    batch_id: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> dict[str, Any]:
    uid, known_path = _anchor(actor, unit_id)

    async def read() -> tuple[str, dict[str, Any], list[dict[str, Any]]] | None:
        on = and_(StatCell.unit_id == OrgUnit.id, *_conditions(batch_id, day_from, day_to))
        stmt = (
            select(
                OrgUnit.id,
                OrgUnit.parent_id,
                OrgUnit.path,
                OrgUnit.name,
                OrgUnit.level,
                OrgUnit.kind,
                OrgUnit.sort_key,
                *_SUMS,
            )
            .select_from(OrgUnit)
            .outerjoin(StatCell, on)
            .where(or_(OrgUnit.id == uid, OrgUnit.parent_id == uid))
            .group_by(
                OrgUnit.id,
                OrgUnit.parent_id,
                OrgUnit.path,
                OrgUnit.name,
                OrgUnit.level,
                OrgUnit.kind,
                OrgUnit.sort_key,
            )
        )
        rows = (await session.execute(stmt)).mappings().all()
        unit = next((r for r in rows if r["id"] == uid), None)
        if unit is None:
            return None

        def row(r: Any) -> dict[str, Any]:
            return {"id": r["id"], "name": r["name"], "level": r["level"], "kind": r["kind"], **_row(r)}

        kids = sorted((r for r in rows if r["id"] != uid), key=lambda r: (r["sort_key"], r["name"]))
        children = [row(k) for k in kids]
        children.sort(key=lambda r: (-r["total"], r["name"]))
        return unit["path"], row(unit), children

    found = await _shared(session, ("unit", uid, batch_id, day_from, day_to), read)
    if found is None:
        raise NotFound(kind="org_unit", target_id=uid)
    path, unit, children = found
    if known_path is None:
        ensure_in_scope(actor, STATS, kind="org_unit", target_id=uid, path=path)
    return {"unit": dict(unit), "children": [dict(c) for c in children], "has_parent_in_scope": False}


async def batch_stats(
    session: AsyncSession,
    actor: Actor,
    unit_id: str | None = None,
    *,
    day_from: str | None = None,
    day_to: str | None = None,
) -> list[dict[str, Any]]:
    uid = await _unit_in_scope(session, actor, unit_id)

    async def read() -> list[dict[str, Any]]:
        b = VerificationBatch
        stmt = _filtered(
            select(StatCell.batch_id, b.name, b.created_at, b.deadline, *_SUMS)
            .select_from(StatCell)
            .outerjoin(b, b.id == StatCell.batch_id)
            .where(StatCell.unit_id == uid),
            None,
            day_from,
            day_to,
        )
        result = await session.execute(stmt.group_by(StatCell.batch_id, b.name, b.created_at, b.deadline))
        rows = [
            {
                "batch_id": r["batch_id"],
                "name": r["name"] if r["name"] is not None else r["batch_id"],
                "created_at": r["created_at"],
                "deadline": r["deadline"],
                **_row(r),
            }
            for r in result.mappings()
        ]
        rows.sort(key=lambda r: str(r["created_at"] or ""), reverse=True)
        return rows

    return [dict(r) for r in await _shared(session, ("batch", uid, day_from, day_to), read)]


async def daily_stats(
    session: AsyncSession,
    actor: Actor,
    unit_id: str | None = None,
    *,
    batch_id: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> list[dict[str, Any]]:
    uid = await _unit_in_scope(session, actor, unit_id)

    async def read() -> list[dict[str, Any]]:
        stmt = _filtered(
            select(StatCell.day, *_SUMS).where(StatCell.unit_id == uid), batch_id, day_from, day_to
        )
        rows = (await session.execute(stmt.group_by(StatCell.day).order_by(StatCell.day))).mappings()
        return [{"day": r["day"], **_row(r)} for r in rows]

    return [dict(r) for r in await _shared(session, ("daily", uid, batch_id, day_from, day_to), read)]
