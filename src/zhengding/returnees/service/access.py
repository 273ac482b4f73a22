"""Loading and listing returnees for a user: `access_returnee` (the only loader by id),
`list_returnees`, `routing_queue`, `returnee_detail`, and the personal-data revealer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import ensure_in_scope
from zhengding.core.errors import NotFound
from zhengding.orgs import service as org_service
from zhengding.privacy.crypto import blind_index
from zhengding.privacy.idcard import normalize, normalize_phone
from zhengding.privacy.service import register_revealer
from zhengding.returnees import repository as repo
from zhengding.returnees import views
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Returnee
from zhengding.returnees.permissions import READ


async def access_returnee(session: AsyncSession, actor: Actor, returnee_id: str, permission: str = READ,
                          *, for_update: bool = False) -> Returnee:
    r = await repo.get(session, returnee_id, for_update=for_update)
    if r is None:
        raise NotFound("返乡人员不存在或无权查看")
    ensure_in_scope(actor, permission, path=r.unit_path)
    return r


async def list_returnees(session: AsyncSession, actor: Actor, *, status: str | None = None,
                         unit_id: str | None = None, q: str | None = None, overdue: bool = False,
                         anomalies: bool = False, before: str | None = None, limit: int = 30) -> dict[str, Any]:
    """Newest first, keyset-paged by id; one audit row per list read (subjects' data, masked)."""
    stmt = repo.returnees_in_scope(actor, READ)
    if unit_id:
        unit = await org_service.access_unit(session, actor, unit_id, READ)
        stmt = stmt.where(Returnee.unit_path.startswith(unit.path, autoescape=False))
    if status:
        statuses = [s for s in status.split(",") if s in {x.value for x in ReturneeStatus}]
        stmt = stmt.where(Returnee.status.in_(statuses))
    if overdue:
        stmt = stmt.where(or_(Returnee.ack_overdue_at.is_not(None), Returnee.checkin_overdue_at.is_not(None)))
    if anomalies:
        stmt = stmt.where(Returnee.open_anomalies > 0)
    if q and q.strip():
        q = q.strip()
        keys = {blind_index("name", q)}
        if q.replace("X", "").replace("x", "").isdigit():
            keys.add(blind_index("id_number", normalize(q)))
            keys.add(blind_index("phone", normalize_phone(q)))
        stmt = stmt.where(or_(Returnee.name_bidx.in_(keys), Returnee.id_number_bidx.in_(keys),
                              Returnee.phone_bidx.in_(keys)))
    if before:
        stmt = stmt.where(Returnee.id < before)
    rows = (await session.execute(stmt.order_by(Returnee.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record(session, actor, "returnees.list.read", target_type="returnee",
                 detail={"count": len(rows), "status": status or "", "unit_id": unit_id or ""})
    return {"items": [views.list_item(r, name) for r, name in rows],
            "next_before": rows[-1][0].id if more and rows else None}


async def returnee_detail(session: AsyncSession, actor: Actor, returnee_id: str) -> dict[str, Any]:
    r = await access_returnee(session, actor, returnee_id)
    history = await repo.history(session, r.id)
    names = await repo.unit_names(session, [r.unit_id] + [h.from_unit_id or "" for h in history]
                                  + [h.to_unit_id or "" for h in history])
    audit.record(session, actor, "returnees.returnee.read", target_type="returnee", target_id=r.id)
    return views.detail(r, names.get(r.unit_id), [views.history_item(h, names) for h in history],
                        await repo.check_ins(session, r.id), await repo.anomalies_of(session, r.id))


async def returnee_read(session: AsyncSession, r: Returnee) -> dict[str, Any]:
    names = await repo.unit_names(session, [r.unit_id])
    return views.list_item(r, names.get(r.unit_id))


_REVEALABLE = {"name", "phone", "id_number", "contact_phone"}


async def _reveal(session: AsyncSession, actor: Actor, target_id: str, field: str) -> str | None:
    if field not in _REVEALABLE:
        return None
    r = await access_returnee(session, actor, target_id)
    return getattr(r, field)


register_revealer("returnee", _reveal)


async def routing_queue(session: AsyncSession, actor: Actor, *, limit: int = 100) -> list[dict[str, Any]]:
    from zhengding.returnees.permissions import ROUTE

    stmt = repo.returnees_in_scope(actor, ROUTE).where(Returnee.status == ReturneeStatus.ROUTING)
    rows = (await session.execute(stmt.order_by(Returnee.id.desc()).limit(limit))).all()
    audit.record(session, actor, "returnees.routing_queue.read", target_type="returnee", detail={"count": len(rows)})
    return [views.list_item(r, name) for r, name in rows]


async def status_counts_for_todo(session: AsyncSession, actor: Actor, statuses: list[str]) -> int:
    from sqlalchemy import func

    stmt = repo.returnees_in_scope(actor, READ).where(Returnee.status.in_(statuses))
    return (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
