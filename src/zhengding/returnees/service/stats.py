"""Statistics use-case `returnee_stats`: counters of a unit's subtree with its children, by day,
port of entry and origin, from the summary table (never a scan of the returnees)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core.clock import parse_day
from zhengding.core.errors import ValidationFailed
from zhengding.orgs import service as org_service
from zhengding.orgs.enums import UnitKind
from zhengding.orgs.models import OrgUnit
from zhengding.returnees.models import ReturneeStat
from zhengding.returnees.permissions import STATS
from zhengding.returnees.stats_table import COUNTERS


def _shape(values: dict[str, int]) -> dict[str, int]:
    out = {c: int(values.get(c) or 0) for c in COUNTERS}
    out["in_monitoring"] = out["enrolled"] - out["released"]
    return out


async def returnee_stats(
    session: AsyncSession,
    actor: Actor,
    unit_id: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> dict[str, Any]:
    if unit_id is None:
        roots = await org_service.root_units(session, actor, STATS)
        if not roots:
            raise ValidationFailed("没有可统计的机构")
        unit_id = roots[0].id
    unit = await org_service.access_unit(session, actor, unit_id, STATS)
    day_from, day_to = parse_day(day_from, "from"), parse_day(day_to, "to")
    sums = [func.sum(getattr(ReturneeStat, c)).label(c) for c in COUNTERS]
    where = [ReturneeStat.unit_path.startswith(unit.path, autoescape=False)]
    if day_from:
        where.append(ReturneeStat.day >= day_from)
    if day_to:
        where.append(ReturneeStat.day <= day_to)

    async def grouped(column):  # type: ignore[no-untyped-def]
        rows = (await session.execute(select(column, *sums).where(*where).group_by(column))).all()
        return [(row[0], _shape(dict(zip(COUNTERS, row[1:], strict=True)))) for row in rows]

    by_path = await grouped(ReturneeStat.unit_path)
    total = _shape({})
    per_child: dict[str, dict[str, int]] = {}
    depth = len(org_service.unit_ids_in_path(unit.path))
    for path, values in by_path:
        for c, v in values.items():
            total[c] += v
        ids = org_service.unit_ids_in_path(path)
        if len(ids) > depth:
            child = per_child.setdefault(ids[depth], _shape({}))
            for c, v in values.items():
                child[c] += v
    children = []
    if unit.kind != UnitKind.COMMITTEE:
        kids = (
            (
                await session.execute(
                    select(OrgUnit)
                    .where(
                        OrgUnit.parent_id == unit.id, OrgUnit.kind.in_([UnitKind.COMMAND, UnitKind.COMMITTEE])
                    )
                    .order_by(OrgUnit.sort_key)
                )
            )
            .scalars()
            .all()
        )
        children = [
            {"id": k.id, "name": k.name, "level": k.level, "kind": k.kind, **per_child.get(k.id, _shape({}))}
            for k in kids
        ]
        children.sort(key=lambda c: -int(c["arrivals"]))  # type: ignore[call-overload]
    held_here = next((v for p, v in by_path if p == unit.path), _shape({}))
    return {
        "unit": {
            "id": unit.id,
            "name": unit.name,
            "level": unit.level,
            "kind": unit.kind,
            "parent_id": unit.parent_id,
        },
        "total": total,
        "held_here": held_here,  # waiting in this unit's own routing queue
        "children": children,
        "by_day": [{"day": d, **v} for d, v in sorted(await grouped(ReturneeStat.day))],
        "by_port": sorted(
            ({"port_of_entry": p, **v} for p, v in await grouped(ReturneeStat.port_of_entry)),
            key=lambda x: -x["arrivals"],
        ),
        "by_origin": sorted(
            ({"origin_province": o, **v} for o, v in await grouped(ReturneeStat.origin_province)),
            key=lambda x: -x["arrivals"],
        ),
    }
