"""Boards and statistics: `assigner_board` (items by status, owner, deadline over the
actor's assign scope), `todo_list` (the owner's to-dos), `open_todo_count` (workbench),
`statistics` (on-time rate and overdue count per unit over a period, from the summary table),
and the unit leaders kept for escalation (`list_leaders`, `add_leader`, `remove_leader`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core.clock import local_date, now, parse_day
from zhengding.core.errors import Conflict, NotFound, ValidationFailed
from zhengding.core.ids import new_id
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.supervision import repository as repo
from zhengding.supervision.enums import UNFINISHED, ItemStatus, OwnerStatus
from zhengding.supervision.models import (
    SupervisionItem,
    SupervisionLeader,
    SupervisionOwner,
    SupervisionUnitDay,
)
from zhengding.supervision.permissions import ASSIGN
from zhengding.supervision.service.items import item_read

_UNFINISHED = [str(s) for s in UNFINISHED]


async def assigner_board(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None = None,
    overdue: bool | None = None,
    owner_unit_id: str | None = None,
    q: str | None = None,
    recurring: bool = False,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    at = now()
    base = select(SupervisionItem).where(common_scope(actor))
    if recurring:
        base = base.where(SupervisionItem.status.in_([ItemStatus.RECURRING, ItemStatus.STOPPED]))
    else:
        base = base.where(
            SupervisionItem.status.in_([ItemStatus.OPEN, ItemStatus.CLOSED, ItemStatus.CANCELLED])
        )
    if q:
        base = base.where(SupervisionItem.title.contains(q, autoescape=True))
    if owner_unit_id:
        base = base.where(
            SupervisionItem.id.in_(
                select(SupervisionOwner.item_id).where(
                    or_(
                        SupervisionOwner.unit_id == owner_unit_id,
                        SupervisionOwner.stat_unit_id == owner_unit_id,
                    )
                )
            )
        )
    late = select(SupervisionOwner.item_id).where(
        SupervisionOwner.deadline < at, SupervisionOwner.status.in_(_UNFINISHED)
    )
    counted = base
    if status in ("open", "closed", "cancelled"):
        base = base.where(SupervisionItem.status == status)
    elif status == "review":
        base = base.where(
            SupervisionItem.id.in_(
                select(SupervisionOwner.item_id).where(SupervisionOwner.status == OwnerStatus.SUBMITTED)
            )
        )
    if overdue:
        base = base.where(SupervisionItem.status == ItemStatus.OPEN, SupervisionItem.id.in_(late))
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = list(
        (
            await session.scalars(
                base.order_by(
                    SupervisionItem.status.desc(), SupervisionItem.deadline.asc(), SupervisionItem.id.desc()
                )
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        ).all()
    )
    owners = await repo.owners_of(session, [r.id for r in rows])
    counts = await _counts(session, counted, late)
    return {
        "items": [item_read(r, [o for o in owners if o.item_id == r.id], actor, at) for r in rows],
        "total": total,
        "counts": counts,
    }


def common_scope(actor: Actor):  # type: ignore[no-untyped-def]
    return repo.assigner_condition(actor)


async def _counts(session: AsyncSession, base, late) -> dict[str, int]:  # type: ignore[no-untyped-def]
    sub = base.subquery()
    by_status: dict[str, int] = dict(
        (await session.execute(select(sub.c.status, func.count()).group_by(sub.c.status))).all()
    )
    overdue = (
        await session.execute(
            select(func.count()).select_from(
                base.where(SupervisionItem.status == ItemStatus.OPEN, SupervisionItem.id.in_(late)).subquery()
            )
        )
    ).scalar_one()
    review = (
        await session.execute(
            select(func.count()).select_from(
                base.where(
                    SupervisionItem.id.in_(
                        select(SupervisionOwner.item_id).where(
                            SupervisionOwner.status == OwnerStatus.SUBMITTED
                        )
                    )
                ).subquery()
            )
        )
    ).scalar_one()
    return {
        "open": by_status.get("open", 0),
        "closed": by_status.get("closed", 0),
        "overdue": overdue,
        "review": review,
        "recurring": by_status.get("recurring", 0),
        "cancelled": by_status.get("cancelled", 0),
    }


async def todo_list(
    session: AsyncSession, actor: Actor, *, done: bool = False, limit: int = 50
) -> dict[str, Any]:
    at = now()
    stmt = repo.todo_stmt(actor)
    if done:
        stmt = stmt.where(SupervisionOwner.status.not_in(_UNFINISHED))
        stmt = stmt.order_by(SupervisionItem.updated_at.desc())
    else:
        stmt = stmt.where(SupervisionOwner.status.in_(_UNFINISHED)).order_by(SupervisionOwner.deadline.asc())
    rows = (await session.execute(stmt.limit(limit))).all()
    all_owners = await repo.owners_of(session, list({i.id for _, i in rows}))
    items = []
    for owner, item in rows:
        read = item_read(item, [o for o in all_owners if o.item_id == item.id], actor, at)
        read["my_owner"] = next(o for o in read["owners"] if o["id"] == owner.id)
        items.append(read)
    copied = (
        []
        if done
        else [
            {"id": i.id, "title": i.title, "deadline": i.deadline, "status": i.status, "progress": i.progress}
            for i in (
                await session.scalars(
                    repo.copied_stmt(actor)
                    .where(SupervisionItem.status == ItemStatus.OPEN)
                    .order_by(SupervisionItem.deadline)
                    .limit(20)
                )
            ).all()
        ]
    )
    return {"items": items, "copied": copied, "open_count": await open_todo_count(session, actor)}


async def open_todo_count(session: AsyncSession, actor: Actor) -> int:
    stmt = repo.todo_stmt(actor).where(SupervisionOwner.status.in_(_UNFINISHED))
    return (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()


# --- statistics --------------------------------------------------------------------------------


async def statistics(
    session: AsyncSession,
    actor: Actor,
    *,
    unit_id: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Per child unit of `unit_id` (default: the actor's first assign unit), owners whose deadline
    falls in [start, end] (local days): due, on time, late, overdue, on-time rate = on time / due;
    and the same per day for a trend chart."""
    today = local_date(now())
    start, end = parse_day(start, "start"), parse_day(end, "end")
    first = date.fromisoformat(start) if start else today - timedelta(days=29)
    last = date.fromisoformat(end) if end else today
    if last < first or (last - first).days > 366:
        raise ValidationFailed("统计区间应在一年以内且开始日期不晚于结束日期")
    if unit_id is None:
        grants = actor.grants_for(ASSIGN)
        if not grants:
            raise NotFound()
        unit_id = grants[0].unit_id
    unit = await org_service.access_unit(session, actor, unit_id, ASSIGN)
    rows = (
        await session.execute(
            select(
                SupervisionUnitDay.unit_path,
                SupervisionUnitDay.day,
                SupervisionUnitDay.due,
                SupervisionUnitDay.on_time,
                SupervisionUnitDay.late,
                SupervisionUnitDay.overdue,
            ).where(
                SupervisionUnitDay.unit_path.startswith(unit.path, autoescape=True),
                SupervisionUnitDay.day >= first.isoformat(),
                SupervisionUnitDay.day <= last.isoformat(),
            )
        )
    ).all()
    children = list(
        (
            await session.scalars(
                select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.sort_key, OrgUnit.name)
            )
        ).all()
    )

    def blank() -> dict[str, int]:
        return {"due": 0, "on_time": 0, "late": 0, "overdue": 0}

    per_child: dict[str, dict[str, int]] = {c.id: blank() for c in children}
    own = blank()
    total = blank()
    trend: dict[str, dict[str, int]] = {}
    depth = len(org_service.unit_ids_in_path(unit.path))
    for r in rows:
        parts = org_service.unit_ids_in_path(r.unit_path)
        target = per_child.get(parts[depth]) if len(parts) > depth else own
        for key in ("due", "on_time", "late", "overdue"):
            value = getattr(r, key)
            total[key] += value
            if target is not None:
                target[key] += value
            trend.setdefault(r.day, blank())[key] += value

    def stat(sid: str, name: str, s: dict[str, int]) -> dict[str, Any]:
        return {
            "id": sid,
            "name": name,
            **s,
            "on_time_rate": round(s["on_time"] / s["due"], 4) if s["due"] else None,
        }

    days = []
    d = first
    while d <= last:
        days.append({"day": d.isoformat(), **trend.get(d.isoformat(), blank())})
        d += timedelta(days=1)
    result_children = [stat(c.id, c.name, per_child[c.id]) for c in children if any(per_child[c.id].values())]
    if any(own.values()):
        result_children.insert(0, stat(unit.id, f"{unit.name}（本级）", own))
    return {
        "unit": stat(unit.id, unit.name, total),
        "children": result_children,
        "days": days,
        "start": first.isoformat(),
        "end": last.isoformat(),
    }


# --- unit leaders ------------------------------------------------------------------------------


async def list_leaders(session: AsyncSession, actor: Actor, unit_id: str) -> list[dict[str, Any]]:
    await org_service.access_unit(session, actor, unit_id, ASSIGN)
    rows = await repo.leaders_of(session, [unit_id])
    users = await repo.users_by_ids(session, rows.get(unit_id, []))
    return [
        {"unit_id": unit_id, "user_id": u, "name": users[u].name} for u in rows.get(unit_id, []) if u in users
    ]


async def add_leader(session: AsyncSession, actor: Actor, unit_id: str, user_id: str) -> list[dict[str, Any]]:
    unit = await org_service.access_unit(session, actor, unit_id, ASSIGN)
    if user_id not in await repo.users_in_scope(session, actor, ASSIGN, [user_id]):
        raise NotFound("人员不存在或不在您的管辖范围内")
    exists = (
        await session.scalars(
            select(SupervisionLeader.id).where(
                SupervisionLeader.unit_id == unit_id, SupervisionLeader.user_id == user_id
            )
        )
    ).first()
    if exists:
        raise Conflict("已是该单位的督办领导")
    session.add(
        SupervisionLeader(
            id=new_id(), unit_id=unit.id, user_id=user_id, created_by=actor.user_id, created_at=now()
        )
    )
    await session.flush()
    audit.record(
        session,
        actor,
        "supervision.leader.added",
        target_type="org_unit",
        target_id=unit.id,
        detail={"user_id": user_id},
    )
    return await list_leaders(session, actor, unit_id)


async def remove_leader(
    session: AsyncSession, actor: Actor, unit_id: str, user_id: str
) -> list[dict[str, Any]]:
    await org_service.access_unit(session, actor, unit_id, ASSIGN)
    await session.execute(
        delete(SupervisionLeader).where(
            SupervisionLeader.unit_id == unit_id, SupervisionLeader.user_id == user_id
        )
    )
    audit.record(
        session,
        actor,
        "supervision.leader.removed",
        target_type="org_unit",
        target_id=unit_id,
        detail={"user_id": user_id},
    )
    return await list_leaders(session, actor, unit_id)
