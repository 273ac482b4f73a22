"""Overdue sweep (a scheduled job): `sweep_overdue` flags arrivals not acknowledged in time and
missed daily check-ins, reminds the village (in-app at once, SMS when still unread after the
delay), and escalates flags still open after the escalation delay to the town command.

Who is notified:
- flag → the village's members: inbox entry ("returnees.overdue", SMS after policy.sms_after())
  and "returnees.returnee.updated" live;
- escalation → the town command's members: inbox entry and "returnees.returnee.escalated".
Each flag and escalation happens once (the timestamps on the returnee are the guards), so a
job that runs twice in a slot changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.core.clock import day_start, local_day, now
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.service import inbox
from zhengding.privacy.masking import mask_name
from zhengding.returnees import oversight, policy, stats_table
from zhengding.returnees import repository as repo
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Returnee, ReturneeHistory
from zhengding.returnees.service.access import returnee_read
from zhengding.returnees.service.anomalies import command_units

BATCH = 500


@dataclass
class SweepResult:
    ack_flagged: list[str] = field(default_factory=list)
    ack_escalated: list[str] = field(default_factory=list)
    check_in_flagged: list[str] = field(default_factory=list)
    check_in_escalated: list[str] = field(default_factory=list)


def _note(session: AsyncSession, r: Returnee, kind: str, note: str) -> None:
    session.add(
        ReturneeHistory(
            id=new_id(),
            returnee_id=r.id,
            kind=kind,
            actor_id=None,
            actor_name="系统",
            from_unit_id=None,
            to_unit_id=None,
            note=note,
            at=now(),
        )
    )


async def _flag(session: AsyncSession, r: Returnee, title: str) -> None:
    users = await repo.members_under(session, r.unit_path)
    if users:
        await inbox.notify_users(
            session,
            users,
            kind="returnees.overdue",
            title=title,
            link=f"/returnees/{r.id}",
            object_type="returnee",
            object_id=r.id,
            source="returnees.overdue",
            sms_after=policy.sms_after(),
        )
        publish_event(session, "returnees.returnee.updated", await returnee_read(session, r), users=users)


async def _escalate(session: AsyncSession, r: Returnee, what: str) -> None:
    village = (await repo.unit_names(session, [r.unit_id])).get(r.unit_id, "")
    title = f"{village}返乡人员{mask_name(r.name)}{what}"
    town = command_units(r.unit_path)[:1]
    users = await repo.members_of(session, town)
    if users:
        await inbox.notify_users(
            session,
            users,
            kind="returnees.escalated",
            title=title,
            link=f"/returnees/{r.id}",
            object_type="returnee",
            object_id=r.id,
            source="returnees.overdue",
            sms_after=policy.sms_after(),
        )
        publish_event(
            session,
            "returnees.returnee.escalated",
            {**(await returnee_read(session, r)), "reason": title},
            users=users,
        )


async def _missed_check_ins(session: AsyncSession, at: datetime) -> list[Returnee]:
    yesterday = local_day(at - timedelta(days=1))
    return list(
        (
            await session.execute(
                select(Returnee)
                .where(
                    Returnee.status == ReturneeStatus.MONITORING,
                    Returnee.checkin_overdue_at.is_(None),
                    or_(Returnee.last_check_in_day.is_(None), Returnee.last_check_in_day < yesterday),
                    Returnee.enrolled_at < day_start(yesterday),
                    Returnee.monitoring_until > day_start(yesterday),
                )
                .limit(BATCH)
            )
        ).scalars()
    )


async def sweep_overdue(session: AsyncSession) -> SweepResult:
    at = now()
    out = SweepResult()

    ack_late = (
        (
            await session.execute(
                select(Returnee)
                .where(
                    Returnee.status == ReturneeStatus.DISPATCHED,
                    Returnee.ack_overdue_at.is_(None),
                    Returnee.dispatched_at < at - policy.ack_deadline(),
                )
                .limit(BATCH)
            )
        )
        .scalars()
        .all()
    )
    missed_rows = await _missed_check_ins(session, at)
    # the commands above every returnee flagged here, looked up at once (they hear of the counters)
    await oversight.prefetch(session, [stats_table.change_of(r, {}) for r in [*ack_late, *missed_rows]])
    for r in ack_late:
        was = stats_table.is_overdue(r)
        r.ack_overdue_at = at
        if not was:
            await stats_table.bump(session, r, {"overdue": 1})
        _note(session, r, "ack_overdue", "超时未签收")
        await _flag(session, r, f"返乡人员{mask_name(r.name)}超时未签收，请尽快签收并登记")
        out.ack_flagged.append(r.id)

    ack_open = (
        (
            await session.execute(
                select(Returnee)
                .where(
                    Returnee.status == ReturneeStatus.DISPATCHED,
                    Returnee.ack_escalated_at.is_(None),
                    Returnee.ack_overdue_at < at - policy.escalate_after(),
                )
                .limit(BATCH)
            )
        )
        .scalars()
        .all()
    )
    for r in ack_open:
        r.ack_escalated_at = at
        _note(session, r, "ack_escalated", "超时未签收，已上报乡镇（街道）")
        await _escalate(session, r, "超时仍未签收")
        out.ack_escalated.append(r.id)

    yesterday = local_day(at - timedelta(days=1))
    for r in missed_rows:
        was = stats_table.is_overdue(r)
        r.checkin_overdue_at, r.checkin_overdue_day = at, yesterday
        if not was:
            await stats_table.bump(session, r, {"overdue": 1})
        _note(session, r, "check_in_overdue", f"{yesterday} 未填报健康监测")
        await _flag(session, r, f"返乡人员{mask_name(r.name)} {yesterday} 未填报健康监测")
        out.check_in_flagged.append(r.id)

    missed_open = (
        (
            await session.execute(
                select(Returnee)
                .where(
                    Returnee.status == ReturneeStatus.MONITORING,
                    Returnee.checkin_escalated_at.is_(None),
                    Returnee.checkin_overdue_at < at - policy.escalate_after(),
                )
                .limit(BATCH)
            )
        )
        .scalars()
        .all()
    )
    for r in missed_open:
        r.checkin_escalated_at = at
        _note(session, r, "check_in_escalated", "漏报健康监测，已上报乡镇（街道）")
        await _escalate(session, r, f"漏报健康监测（{r.checkin_overdue_day}）")
        out.check_in_escalated.append(r.id)
    if any((out.ack_flagged, out.ack_escalated, out.check_in_flagged, out.check_in_escalated)):
        audit.record(
            session,
            None,
            "returnees.overdue.swept",
            detail={
                "ack_flagged": len(out.ack_flagged),
                "ack_escalated": len(out.ack_escalated),
                "check_in_flagged": len(out.check_in_flagged),
                "check_in_escalated": len(out.check_in_escalated),
            },
        )
    return out
