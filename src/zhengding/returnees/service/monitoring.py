"""The grid worker's use-cases: `acknowledge_returnee`, `enrol_returnee`, `record_check_in`,
`release_returnee`.

Who is notified: each step publishes "returnees.returnee.updated" to the village's members so
that their open lists and details refresh (the other grid workers of the village see who took it).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core.clock import local_day, local_text, now
from zhengding.core.errors import Conflict, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.privacy.idcard import normalize_phone, phone_error
from zhengding.returnees import policy, stats_table
from zhengding.returnees import repository as repo
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import CheckIn, Returnee, ReturneeHistory
from zhengding.returnees.permissions import HANDLE
from zhengding.returnees.schemas import CheckInCreate, ReturneeEnrol
from zhengding.returnees.service.access import access_returnee, returnee_read


def _history(session: AsyncSession, r: Returnee, actor: Actor, kind: str, note: str = "") -> None:
    session.add(
        ReturneeHistory(
            id=new_id(),
            returnee_id=r.id,
            kind=kind,
            actor_id=actor.user_id,
            actor_name=actor.name,
            from_unit_id=None,
            to_unit_id=None,
            note=note,
            at=now(),
        )
    )


async def _updated(session: AsyncSession, r: Returnee) -> None:
    users = await repo.members_under(session, r.unit_path)
    if users:
        publish_event(session, "returnees.returnee.updated", await returnee_read(session, r), users=users)


async def clear_ack_overdue(session: AsyncSession, r: Returnee) -> None:
    before = stats_table.is_overdue(r)
    r.ack_overdue_at = r.ack_escalated_at = None
    if before and not stats_table.is_overdue(r):
        await stats_table.bump(session, r, {"overdue": -1})


async def acknowledge_returnee(session: AsyncSession, actor: Actor, returnee_id: str) -> Returnee:
    r = await access_returnee(session, actor, returnee_id, HANDLE, for_update=True)
    if r.status != ReturneeStatus.DISPATCHED:
        if r.acknowledged_at is not None:
            return r  # idempotent: a second tap (or a colleague) changes nothing
        raise Conflict("该人员尚未分派到村")
    r.status = str(ReturneeStatus.ACKNOWLEDGED)
    if r.acknowledged_at is None:
        r.acknowledged_at, r.acknowledged_by = now(), actor.user_id
        await stats_table.bump(session, r, {"acknowledged": 1})
    await clear_ack_overdue(session, r)
    _history(session, r, actor, "acknowledged")
    audit.record(session, actor, "returnees.returnee.acknowledged", target_type="returnee", target_id=r.id)
    await _updated(session, r)
    return r


async def enrol_returnee(
    session: AsyncSession, actor: Actor, returnee_id: str, body: ReturneeEnrol
) -> Returnee:
    r = await access_returnee(session, actor, returnee_id, HANDLE, for_update=True)
    if r.status not in (ReturneeStatus.DISPATCHED, ReturneeStatus.ACKNOWLEDGED):
        raise Conflict("该人员已登记或尚未分派")
    if not body.identity_confirmed:
        raise ValidationFailed("请先核对身份", [field_error("identity_confirmed", "请核对身份证件后勾选")])
    contact = None
    if body.contact_phone:
        contact = normalize_phone(body.contact_phone)
        reason = phone_error(contact)
        if reason:
            raise ValidationFailed(reason, [field_error("contact_phone", reason)])
    at = now()
    if r.acknowledged_at is None:  # enrolling implies receipt
        r.acknowledged_at, r.acknowledged_by = at, actor.user_id
        await stats_table.bump(session, r, {"acknowledged": 1})
        await clear_ack_overdue(session, r)
    days = body.monitoring_days or policy.monitoring_days()
    r.status = str(ReturneeStatus.MONITORING)
    r.enrolled_at, r.enrolled_by = at, actor.user_id
    r.actual_address = body.actual_address.strip()
    r.contact_phone = contact
    r.household_size = body.household_size
    r.household_note = body.household_note.strip()
    r.monitoring_plan = body.monitoring_plan
    r.monitoring_days = days
    # Monitoring counts from the arrival: 14 days after landing, not after the visit.
    r.monitoring_until = r.arrived_at + timedelta(days=days)
    await stats_table.bump(session, r, {"enrolled": 1})
    _history(session, r, actor, "enrolled", f"监测方式：{body.monitoring_plan}，{days} 天")
    audit.record(
        session,
        actor,
        "returnees.returnee.enrolled",
        target_type="returnee",
        target_id=r.id,
        detail={"monitoring_days": days, "plan": body.monitoring_plan},
    )
    await _updated(session, r)
    return r


async def record_check_in(
    session: AsyncSession, actor: Actor, returnee_id: str, body: CheckInCreate
) -> CheckIn:
    r = await access_returnee(session, actor, returnee_id, HANDLE, for_update=True)
    if r.status != ReturneeStatus.MONITORING:
        raise Conflict("该人员不在健康监测期内")
    day = local_day(now())
    if r.last_check_in_day == day:
        raise Conflict("今日已填报健康监测")
    check = CheckIn(
        id=new_id(),
        returnee_id=r.id,
        day=day,
        temperature=round(body.temperature, 1),
        symptoms=list(dict.fromkeys(body.symptoms)),
        note=body.note.strip(),
        recorded_by=actor.user_id,
        recorded_by_name=actor.name,
        created_at=now(),
    )
    session.add(check)
    r.last_check_in_day = day
    if r.checkin_overdue_at is not None:
        before = stats_table.is_overdue(r)
        r.checkin_overdue_at = r.checkin_escalated_at = None
        r.checkin_overdue_day = None
        if before and not stats_table.is_overdue(r):
            await stats_table.bump(session, r, {"overdue": -1})
    _history(session, r, actor, "checked_in", f"体温 {check.temperature}℃")
    audit.record(
        session,
        actor,
        "returnees.check_in.recorded",
        target_type="returnee",
        target_id=r.id,
        detail={"day": day},
    )
    await _updated(session, r)
    return check


async def release_returnee(session: AsyncSession, actor: Actor, returnee_id: str, note: str = "") -> Returnee:
    r = await access_returnee(session, actor, returnee_id, HANDLE, for_update=True)
    if r.status != ReturneeStatus.MONITORING:
        raise Conflict("该人员不在健康监测期内")
    if r.monitoring_until and r.monitoring_until > now():
        raise Conflict(f"监测期未满，{local_text(r.monitoring_until)} 后方可解除")
    if r.open_anomalies:
        raise Conflict("尚有未处置的异常，不能解除")
    was_overdue = stats_table.is_overdue(r)
    r.status = str(ReturneeStatus.RELEASED)
    r.released_at, r.released_by = now(), actor.user_id
    r.checkin_overdue_at = r.checkin_escalated_at = None
    r.checkin_overdue_day = None
    await stats_table.bump(session, r, {"released": 1, "overdue": -1 if was_overdue else 0})
    _history(session, r, actor, "released", note.strip())
    audit.record(session, actor, "returnees.returnee.released", target_type="returnee", target_id=r.id)
    await _updated(session, r)
    return r
