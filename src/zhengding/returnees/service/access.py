"""Loading and listing returnees for a user: `access_returnee` (the only loader by id),
`list_returnees` (and `list_conditions`, its filters, shared with the export), `routing_queue`,
`returnee_detail`, and the personal-data revealer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import ensure_in_scope
from zhengding.core.clock import parse_day
from zhengding.core.errors import NotFound
from zhengding.orgs import service as org_service
from zhengding.privacy.crypto import blind_index
from zhengding.privacy.idcard import normalize, normalize_phone
from zhengding.returnees import repository as repo
from zhengding.returnees import views
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Returnee
from zhengding.returnees.permissions import READ, ROUTE
from zhengding.returnees.schemas import ReturneeFilter


async def access_returnee(
    session: AsyncSession, actor: Actor, returnee_id: str, permission: str = READ, *, for_update: bool = False
) -> Returnee:
    r = await repo.get(session, returnee_id, for_update=for_update)
    if r is None:
        raise NotFound(kind="returnee", target_id=returnee_id)
    ensure_in_scope(actor, permission, kind="returnee", target_id=r.id, path=r.unit_path)
    return r


async def list_conditions(
    session: AsyncSession, actor: Actor, f: ReturneeFilter, permission: str = READ
) -> list[ColumnElement[bool]]:
    """The filters as conditions on Returnee (the scope is applied by the caller's statement)."""
    conds: list[ColumnElement[bool]] = []
    if f.unit_id:
        unit = await org_service.access_unit(session, actor, f.unit_id, permission)
        conds.append(Returnee.unit_path.startswith(unit.path, autoescape=False))
    if f.status:
        statuses = [s for s in f.status.split(",") if s in {x.value for x in ReturneeStatus}]
        conds.append(Returnee.status.in_(statuses))
    if f.overdue:
        conds.append(or_(Returnee.ack_overdue_at.is_not(None), Returnee.checkin_overdue_at.is_not(None)))
    if f.anomalies:
        conds.append(Returnee.open_anomalies > 0)
    if f.port_of_entry and f.port_of_entry.strip():
        conds.append(Returnee.port_of_entry == f.port_of_entry.strip())
    day_from, day_to = parse_day(f.day_from, "from"), parse_day(f.day_to, "to")
    if day_from:
        conds.append(Returnee.day >= day_from)
    if day_to:
        conds.append(Returnee.day <= day_to)
    if f.q and f.q.strip():
        q = f.q.strip()
        keys = {blind_index("name", q)}
        if q.replace("X", "").replace("x", "").isdigit():
            keys.add(blind_index("id_number", normalize(q)))
            keys.add(blind_index("phone", normalize_phone(q)))
        conds.append(
            or_(
                Returnee.name_bidx.in_(keys), Returnee.id_number_bidx.in_(keys), Returnee.phone_bidx.in_(keys)
            )
        )
    return conds


async def list_returnees(
    session: AsyncSession,
    actor: Actor,
    f: ReturneeFilter,
    *,
    before: str | None = None,
    limit: int = 30,
    page: int | None = None,
) -> dict[str, Any]:
    """Newest first with the number of matches (`total`). Paged by `page` (1-based, `limit` a
    page) or, without it, keyset-paged by id (`before` = the previous answer's `next_before`).
    One audit row per list read (subjects' data, masked)."""
    conds = await list_conditions(session, actor, f)
    stmt = repo.returnees_in_scope(actor, READ).where(*conds).order_by(Returnee.id.desc())
    if page is not None:
        stmt = stmt.offset((page - 1) * limit)
    elif before:
        stmt = stmt.where(Returnee.id < before)
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    total = await repo.count_in_scope(session, actor, READ, conds)
    audit.record(
        session,
        actor,
        "returnees.list.read",
        target_type="returnee",
        detail={"count": len(rows), **f.detail()},
    )
    return {
        "items": [views.list_item(r, name) for r, name in rows],
        "total": total,
        "next_before": rows[-1][0].id if more and rows else None,
    }


async def returnee_detail(session: AsyncSession, actor: Actor, returnee_id: str) -> dict[str, Any]:
    r = await access_returnee(session, actor, returnee_id)
    history = await repo.history(session, r.id)
    names = await repo.unit_names(
        session, [r.unit_id] + [h.from_unit_id or "" for h in history] + [h.to_unit_id or "" for h in history]
    )
    audit.record(session, actor, "returnees.returnee.read", target_type="returnee", target_id=r.id)
    return views.detail(
        r,
        names.get(r.unit_id),
        [views.history_item(h, names) for h in history],
        await repo.check_ins(session, r.id),
        await repo.anomalies_of(session, r.id),
    )


async def returnee_read(session: AsyncSession, r: Returnee) -> dict[str, Any]:
    names = await repo.unit_names(session, [r.unit_id])
    return views.list_item(r, names.get(r.unit_id))


_REVEALABLE = {"name", "phone", "id_number", "contact_phone"}


async def reveal_field(session: AsyncSession, actor: Actor, target_id: str, field: str) -> str | None:
    if field not in _REVEALABLE:
        return None
    r = await access_returnee(session, actor, target_id)
    return getattr(r, field)


async def routing_queue(
    session: AsyncSession, actor: Actor, *, page: int = 1, page_size: int = 50
) -> dict[str, Any]:
    """The manual-routing queues in the actor's routing scope, newest first, with their total."""
    conds = [Returnee.status == ReturneeStatus.ROUTING]
    stmt = repo.returnees_in_scope(actor, ROUTE).where(*conds)
    rows = (
        await session.execute(
            stmt.order_by(Returnee.id.desc()).offset((page - 1) * page_size).limit(page_size)
        )
    ).all()
    total = await repo.count_in_scope(session, actor, ROUTE, conds)
    audit.record(
        session,
        actor,
        "returnees.routing_queue.read",
        target_type="returnee",
        detail={"count": len(rows), "page": page},
    )
    return {"items": [views.list_item(r, name) for r, name in rows], "total": total}


async def status_counts_for_todo(session: AsyncSession, actor: Actor, statuses: list[str]) -> int:
    return await repo.count_in_scope(session, actor, READ, [Returnee.status.in_(statuses)])
