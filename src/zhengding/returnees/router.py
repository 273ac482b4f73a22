"""Endpoints of grid workers and commands (thin: parse, call one service function, return)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.roster_router import XLSX, attachment
from zhengding.authz.actor import Actor
from zhengding.http.deps import current_actor, get_session
from zhengding.http.paging import Days, Keyset, Page, days, keyset, paging
from zhengding.http.routing import make_router
from zhengding.returnees import views
from zhengding.returnees.schemas import (
    AnomalyCreate,
    AnomalyResolve,
    CheckInCreate,
    ReturneeEnrol,
    ReturneeFilter,
    ReturneeRelease,
    ReturneeRoute,
)
from zhengding.returnees.service import access, anomalies, dispatch, export, monitoring, stats

router = make_router("/api/returnees", tags=["返乡人员"])

Session = Depends(get_session)
Me = Depends(current_actor)


def list_filter(
    status: str | None = Query(None, max_length=100),
    unit_id: str | None = Query(None, max_length=26),
    q: str | None = Query(None, max_length=50),
    overdue: bool = False,
    anomalies: bool = False,
    port_of_entry: str | None = Query(None, max_length=50),
    d: Days = days(),
) -> ReturneeFilter:
    return ReturneeFilter(
        status=status,
        unit_id=unit_id,
        q=q,
        overdue=overdue,
        anomalies=anomalies,
        port_of_entry=port_of_entry,
        day_from=d.day_from,
        day_to=d.day_to,
    )


Filter = Depends(list_filter)


@router.get("")
async def list_returnees(
    f: ReturneeFilter = Filter,
    k: Keyset = keyset(size=30, max_size=100, paged=True),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> dict[str, Any]:
    return await access.list_returnees(session, actor, f, before=k.before, limit=k.limit, page=k.page)


@router.get("/export", response_class=Response)
async def export_returnees(
    f: ReturneeFilter = Filter, actor: Actor = Me, session: AsyncSession = Session
) -> Response:
    filename, content = await export.export_returnees(session, actor, f)
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.get("/routing-queue")
async def routing_queue(
    p: Page = paging(size=50, max_size=200), actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await access.routing_queue(session, actor, page=p.page, page_size=p.size)


@router.get("/stats")
async def returnee_stats(
    unit_id: str | None = None, d: Days = days(), actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await stats.returnee_stats(session, actor, unit_id, d.day_from, d.day_to)


@router.get("/anomalies")
async def list_anomalies(
    status: str | None = "open", actor: Actor = Me, session: AsyncSession = Session
) -> list[dict[str, Any]]:
    return await anomalies.list_anomalies(session, actor, status=status or None)


@router.post("/anomalies/{anomaly_id}/resolve")
async def resolve_anomaly(
    anomaly_id: str, body: AnomalyResolve, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return views.anomaly_item(await anomalies.resolve_anomaly(session, actor, anomaly_id, body.resolution))


@router.get("/{returnee_id}")
async def returnee_detail(
    returnee_id: str, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await access.returnee_detail(session, actor, returnee_id)


@router.post("/{returnee_id}/acknowledge")
async def acknowledge(returnee_id: str, actor: Actor = Me, session: AsyncSession = Session) -> dict[str, Any]:
    return await access.returnee_read(
        session, await monitoring.acknowledge_returnee(session, actor, returnee_id)
    )


@router.post("/{returnee_id}/enrol")
async def enrol(
    returnee_id: str, body: ReturneeEnrol, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await access.returnee_read(
        session, await monitoring.enrol_returnee(session, actor, returnee_id, body)
    )


@router.post("/{returnee_id}/check-ins", status_code=201)
async def check_in(
    returnee_id: str, body: CheckInCreate, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return views.check_in_item(await monitoring.record_check_in(session, actor, returnee_id, body))


@router.post("/{returnee_id}/anomalies", status_code=201)
async def report_anomaly(
    returnee_id: str, body: AnomalyCreate, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return views.anomaly_item(await anomalies.report_anomaly(session, actor, returnee_id, body))


@router.post("/{returnee_id}/release")
async def release(
    returnee_id: str, body: ReturneeRelease, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await access.returnee_read(
        session, await monitoring.release_returnee(session, actor, returnee_id, body.note)
    )


@router.post("/{returnee_id}/route")
async def route(
    returnee_id: str, body: ReturneeRoute, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await access.returnee_read(
        session, await dispatch.route_returnee(session, actor, returnee_id, body.village_id, body.note)
    )


@router.post("/{returnee_id}/reassign")
async def reassign(
    returnee_id: str, body: ReturneeRoute, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await access.returnee_read(
        session, await dispatch.reassign_returnee(session, actor, returnee_id, body.village_id, body.note)
    )
