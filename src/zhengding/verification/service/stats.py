"""Statistics (统计): by unit (drill-down from province to village), by batch, by import day,
from the summary cells only — a request reads a few cell rows per unit, never the task table.

`unit_stats` → {unit: row, children: [row]}; `batch_stats` → rows per batch for a unit;
`daily_stats` → rows per import day. A row carries the count per status, transfers in/out/
rejected, completion rate (closed / total) and the median time to reply (from the buckets).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core.errors import NotFound
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.verification import repository as repo
from zhengding.verification.cells import COUNTERS, median_seconds
from zhengding.verification.models import StatCell, VerificationBatch
from zhengding.verification.permissions import STATS

_SUMS = [func.coalesce(func.sum(getattr(StatCell, c)), 0).label(c) for c in COUNTERS]


def _row(values: dict[str, Any] | None) -> dict[str, Any]:
    v = {c: int((values or {}).get(c) or 0) for c in COUNTERS}
    median = median_seconds([v[f"r{i}"] for i in range(10)])
    out = {c: v[c] for c in COUNTERS if not c.startswith("r") or c.startswith("reply")}
    out["open"] = v["pending"] + v["dispatched"] + v["in_progress"] + v["replied"]
    out["completion_rate"] = round(v["closed"] / v["total"], 4) if v["total"] else 0.0
    out["median_reply_hours"] = round(median / 3600, 2) if median is not None else None
    out["mean_reply_hours"] = round(v["reply_seconds"] / v["reply_count"] / 3600, 2) if v["reply_count"] else None
    return out


def _filtered(stmt: Any, batch_id: str | None, day_from: str | None, day_to: str | None) -> Any:
    if batch_id:
        stmt = stmt.where(StatCell.batch_id == batch_id)
    if day_from:
        stmt = stmt.where(StatCell.day >= day_from)
    if day_to:
        stmt = stmt.where(StatCell.day <= day_to)
    return stmt


async def default_unit(session: AsyncSession, actor: Actor) -> OrgUnit:
    grants = sorted(actor.grants_for(STATS), key=lambda g: len(g.unit_path))
    if not grants:
        raise NotFound()
    return await org_service.access_unit(session, actor, grants[0].unit_id, STATS)


async def unit_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *, batch_id: str | None = None,
                     day_from: str | None = None, day_to: str | None = None) -> dict[str, Any]:
    unit = await org_service.access_unit(session, actor, unit_id, STATS) if unit_id \
        else await default_unit(session, actor)
    kids = await repo.children(session, unit.id)
    ids = [unit.id, *(k.id for k in kids)]
    stmt = _filtered(select(StatCell.unit_id, *_SUMS).where(StatCell.unit_id.in_(ids)), batch_id, day_from, day_to)
    sums = {r["unit_id"]: dict(r) for r in (await session.execute(stmt.group_by(StatCell.unit_id))).mappings()}

    def row(u: OrgUnit) -> dict[str, Any]:
        return {"id": u.id, "name": u.name, "level": u.level, "kind": u.kind, **_row(sums.get(u.id))}

    children = [row(k) for k in kids]
    children.sort(key=lambda r: (-r["total"], r["name"]))
    return {"unit": row(unit), "children": children, "has_parent_in_scope": False}


async def batch_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *,
                      day_from: str | None = None, day_to: str | None = None) -> list[dict[str, Any]]:
    unit = await org_service.access_unit(session, actor, unit_id, STATS) if unit_id \
        else await default_unit(session, actor)
    stmt = _filtered(select(StatCell.batch_id, *_SUMS).where(StatCell.unit_id == unit.id), None, day_from, day_to)
    sums = {r["batch_id"]: dict(r) for r in (await session.execute(stmt.group_by(StatCell.batch_id))).mappings()}
    batches = {b.id: b for b in (await session.execute(
        select(VerificationBatch).where(VerificationBatch.id.in_(list(sums))))).scalars()} if sums else {}
    rows = [{"batch_id": bid, "name": batches[bid].name if bid in batches else bid,
             "created_at": batches[bid].created_at if bid in batches else None,
             "deadline": batches[bid].deadline if bid in batches else None, **_row(v)} for bid, v in sums.items()]
    rows.sort(key=lambda r: str(r["created_at"] or ""), reverse=True)
    return rows


async def daily_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *, batch_id: str | None = None,
                      day_from: str | None = None, day_to: str | None = None) -> list[dict[str, Any]]:
    unit = await org_service.access_unit(session, actor, unit_id, STATS) if unit_id \
        else await default_unit(session, actor)
    stmt = _filtered(select(StatCell.day, *_SUMS).where(StatCell.unit_id == unit.id), batch_id, day_from, day_to)
    rows = (await session.execute(stmt.group_by(StatCell.day).order_by(StatCell.day))).mappings()
    return [{"day": r["day"], **_row(dict(r))} for r in rows]
