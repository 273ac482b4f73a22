"""Statistics (统计): by unit (drill-down from province to village), by batch, by import day,
from the summary cells only — a request reads a few cell rows per unit, never the task table.

`unit_stats` → {unit: row, children: [row]}; `batch_stats` → rows per batch for a unit;
`daily_stats` → rows per import day. A row carries the count per status, transfers in/out/
rejected, completion rate (closed / total) and the median time to reply (from the buckets).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.authz.scope import ensure_in_scope
from zhengding.core.errors import NotFound
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


def _row(values: Any) -> dict[str, Any]:
    """The counters of a result row (a mapping with every COUNTERS key, or None) as shown."""
    v = {c: int(values[c] or 0) for c in COUNTERS} if values is not None else dict.fromkeys(COUNTERS, 0)
    median = median_seconds([v[b] for b in _BUCKETS])
    out: dict[str, Any] = {c: v[c] for c in _SHOWN}
    out["open"] = v["pending"] + v["dispatched"] + v["in_progress"] + v["replied"]
    out["completion_rate"] = round(v["closed"] / v["total"], 4) if v["total"] else 0.0
    out["median_reply_hours"] = round(median / 3600, 2) if median is not None else None
    out["mean_reply_hours"] = round(v["reply_seconds"] / v["reply_count"] / 3600, 2) if v["reply_count"] else None
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


def _filtered(stmt: Select[*tuple[Any, ...]], batch_id: str | None, day_from: str | None,
              day_to: str | None) -> Select[*tuple[Any, ...]]:
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
            raise NotFound("组织机构不存在或无权查看")
        ensure_in_scope(actor, STATS, path=path)
    return uid


async def default_unit(session: AsyncSession, actor: Actor) -> str:
    return await _unit_in_scope(session, actor, None)


async def unit_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *, batch_id: str | None = None,
                     day_from: str | None = None, day_to: str | None = None) -> dict[str, Any]:
    uid, known_path = _anchor(actor, unit_id)
    on = and_(StatCell.unit_id == OrgUnit.id, *_conditions(batch_id, day_from, day_to))
    stmt = (select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.path, OrgUnit.name, OrgUnit.level, OrgUnit.kind,
                   OrgUnit.sort_key, *_SUMS)
            .select_from(OrgUnit).outerjoin(StatCell, on)
            .where(or_(OrgUnit.id == uid, OrgUnit.parent_id == uid))
            .group_by(OrgUnit.id, OrgUnit.parent_id, OrgUnit.path, OrgUnit.name, OrgUnit.level, OrgUnit.kind,
                      OrgUnit.sort_key))
    rows = (await session.execute(stmt)).mappings().all()
    unit = next((r for r in rows if r["id"] == uid), None)
    if unit is None:
        raise NotFound("组织机构不存在或无权查看")
    if known_path is None:
        ensure_in_scope(actor, STATS, path=unit["path"])

    def row(r: Any) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "level": r["level"], "kind": r["kind"], **_row(r)}

    kids = sorted((r for r in rows if r["id"] != uid), key=lambda r: (r["sort_key"], r["name"]))
    children = [row(k) for k in kids]
    children.sort(key=lambda r: (-r["total"], r["name"]))
    return {"unit": row(unit), "children": children, "has_parent_in_scope": False}


async def batch_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *,
                      day_from: str | None = None, day_to: str | None = None) -> list[dict[str, Any]]:
    uid = await _unit_in_scope(session, actor, unit_id)
    b = VerificationBatch
    stmt = _filtered(select(StatCell.batch_id, b.name, b.created_at, b.deadline, *_SUMS)
                     .select_from(StatCell).outerjoin(b, b.id == StatCell.batch_id)
                     .where(StatCell.unit_id == uid), None, day_from, day_to)
    result = await session.execute(stmt.group_by(StatCell.batch_id, b.name, b.created_at, b.deadline))
    rows = [{"batch_id": r["batch_id"], "name": r["name"] if r["name"] is not None else r["batch_id"],
             "created_at": r["created_at"], "deadline": r["deadline"], **_row(r)} for r in result.mappings()]
    rows.sort(key=lambda r: str(r["created_at"] or ""), reverse=True)
    return rows


async def daily_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *, batch_id: str | None = None,
                      day_from: str | None = None, day_to: str | None = None) -> list[dict[str, Any]]:
    uid = await _unit_in_scope(session, actor, unit_id)
    stmt = _filtered(select(StatCell.day, *_SUMS).where(StatCell.unit_id == uid), batch_id, day_from, day_to)
    rows = (await session.execute(stmt.group_by(StatCell.day).order_by(StatCell.day))).mappings()
    return [{"day": r["day"], **_row(r)} for r in rows]
