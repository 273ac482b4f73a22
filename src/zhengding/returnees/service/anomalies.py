"""Anomaly use-cases: `report_anomaly` (grid worker), `resolve_anomaly` (town/county command or
village staff), `list_anomalies`.

Who is notified:
- report → the members of the town and the county command above the village get a DING (must
  be confirmed; SMS when unread after the DING delay) and "returnees.anomaly.reported" live;
  the village's members get the same event (their lists show the open anomaly);
- resolve → the reporter, the village's members and the town and county commands:
  "returnees.anomaly.resolved".
Both events carry the same shape (`views.anomaly_event`): the anomaly as listed, with the
returnee's masked name, the holding unit's id and name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor, Grant
from zhengding.authz.roles import DataScope
from zhengding.authz.scope import ensure_in_scope, restrict
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, NotFound
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.service import ding as ding_service
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.privacy.masking import mask_name
from zhengding.returnees import policy, stats_table, views
from zhengding.returnees import repository as repo
from zhengding.returnees.enums import ANOMALY_LABELS, AnomalyKind, AnomalyStatus, ReturneeStatus
from zhengding.returnees.models import Anomaly, Returnee, ReturneeHistory
from zhengding.returnees.permissions import HANDLE, READ, RESOLVE_ANOMALY
from zhengding.returnees.schemas import AnomalyCreate
from zhengding.returnees.service.access import access_returnee


def command_units(village_path: str) -> list[str]:
    """The town and the county (or county-level city) commands above a village."""
    ids = org_service.unit_ids_in_path(village_path)
    return [u for u in (ids[-2:-1] + ids[-3:-2]) if u]


async def report_anomaly(
    session: AsyncSession, actor: Actor, returnee_id: str, body: AnomalyCreate
) -> Anomaly:
    r = await access_returnee(session, actor, returnee_id, HANDLE, for_update=True)
    if r.status not in (ReturneeStatus.DISPATCHED, ReturneeStatus.ACKNOWLEDGED, ReturneeStatus.MONITORING):
        raise Conflict("该人员当前状态不能上报异常")
    at = now()
    anomaly = Anomaly(
        id=new_id(),
        returnee_id=r.id,
        unit_path=r.unit_path,
        kind=str(body.kind),
        description=body.description.strip(),
        status=str(AnomalyStatus.OPEN),
        reported_by=actor.user_id,
        reported_by_name=actor.name,
        reported_at=at,
        resolution="",
    )
    session.add(anomaly)
    r.anomaly_count += 1
    r.open_anomalies += 1
    await stats_table.bump(session, r, {"anomalies": 1, "open_anomalies": 1})
    label = ANOMALY_LABELS[AnomalyKind(body.kind)]
    village = await session.get(OrgUnit, r.unit_id)
    commands = command_units(r.unit_path)
    recipients = [u for u in await repo.members_of(session, commands) if u != actor.user_id]
    content = (
        f"【异常上报】{village.name if village else ''}返乡人员{mask_name(r.name)}：{label}。"
        f"{body.description.strip()[:200]}"
    ).strip()
    await session.flush()
    if recipients and len(commands) >= 1:
        # The grid worker escalates upward, outside their own scope: the DING is sent on their
        # behalf with a grant limited to the county above the village, to named people only.
        county = await session.get(OrgUnit, commands[-1])
        assert county is not None
        delegate = Actor(
            user_id=actor.user_id,
            name=actor.name,
            session_id=actor.session_id,
            ip=actor.ip,
            request_id=actor.request_id,
            unit_id=actor.unit_id,
            unit_name=actor.unit_name,
            grants=[Grant("town_command", DataScope.SUBTREE, county.id, county.path)],
        )
        ding = await ding_service.send_ding(
            session,
            delegate,
            content=content,
            user_ids=recipients,
            unit_ids=[],
            escalate_after_minutes=policy.ding_escalate_minutes(),
            object_type="returnee_anomaly",
            object_id=anomaly.id,
        )
        anomaly.ding_id = ding.id
    session.add(
        ReturneeHistory(
            id=new_id(),
            returnee_id=r.id,
            kind="anomaly_reported",
            actor_id=actor.user_id,
            actor_name=actor.name,
            from_unit_id=None,
            to_unit_id=None,
            note=label,
            at=at,
        )
    )
    audit.record(
        session,
        actor,
        "returnees.anomaly.reported",
        target_type="returnee_anomaly",
        target_id=anomaly.id,
        detail={"kind": str(body.kind), "returnee_id": r.id},
    )
    payload = views.anomaly_event(anomaly, r, village.name if village else None)
    watchers = set(recipients) | set(await repo.members_under(session, r.unit_path))
    publish_event(session, "returnees.anomaly.reported", payload, users=sorted(watchers))
    return anomaly


async def access_anomaly(session: AsyncSession, actor: Actor, anomaly_id: str, permission: str) -> Anomaly:
    anomaly = await session.get(Anomaly, anomaly_id)
    if anomaly is None:
        raise NotFound(kind="returnee_anomaly", target_id=anomaly_id)
    ensure_in_scope(actor, permission, kind="returnee_anomaly", target_id=anomaly.id, path=anomaly.unit_path)
    return anomaly


async def resolve_anomaly(session: AsyncSession, actor: Actor, anomaly_id: str, resolution: str) -> Anomaly:
    anomaly = await access_anomaly(session, actor, anomaly_id, RESOLVE_ANOMALY)
    if anomaly.status != AnomalyStatus.OPEN:
        raise Conflict("该异常已处置")
    r = await repo.get(session, anomaly.returnee_id, for_update=True)
    assert r is not None
    at = now()
    anomaly.status = str(AnomalyStatus.RESOLVED)
    anomaly.resolved_by, anomaly.resolved_by_name, anomaly.resolved_at = actor.user_id, actor.name, at
    anomaly.resolution = resolution.strip()
    r.open_anomalies = max(0, r.open_anomalies - 1)
    # The counter row is the returnee's current unit (it may have moved since the report).
    await stats_table.bump(session, r, {"open_anomalies": -1})
    session.add(
        ReturneeHistory(
            id=new_id(),
            returnee_id=r.id,
            kind="anomaly_resolved",
            actor_id=actor.user_id,
            actor_name=actor.name,
            from_unit_id=None,
            to_unit_id=None,
            note=anomaly.resolution[:200],
            at=at,
        )
    )
    audit.record(
        session, actor, "returnees.anomaly.resolved", target_type="returnee_anomaly", target_id=anomaly.id
    )
    users = set(await repo.members_under(session, r.unit_path)) | {anomaly.reported_by}
    users |= set(await repo.members_of(session, command_units(r.unit_path)))
    names = await repo.unit_names(session, [r.unit_id])
    publish_event(
        session,
        "returnees.anomaly.resolved",
        views.anomaly_event(anomaly, r, names.get(r.unit_id)),
        users=sorted(users),
    )
    return anomaly


async def list_anomalies(
    session: AsyncSession, actor: Actor, *, status: str | None = "open", limit: int = 100
) -> list[dict[str, Any]]:
    stmt = (
        select(Anomaly, Returnee, OrgUnit.name)
        .join(Returnee, Returnee.id == Anomaly.returnee_id)
        .join(OrgUnit, OrgUnit.id == Returnee.unit_id)
    )
    stmt = restrict(stmt, actor, READ, path=Anomaly.unit_path)
    if status:
        stmt = stmt.where(Anomaly.status == status)
    rows = (await session.execute(stmt.order_by(Anomaly.reported_at.desc()).limit(limit))).all()
    audit.record(
        session,
        actor,
        "returnees.anomalies.read",
        target_type="returnee_anomaly",
        detail={"count": len(rows)},
    )
    return [views.anomaly_item(a, r, name) for a, r, name in rows]
