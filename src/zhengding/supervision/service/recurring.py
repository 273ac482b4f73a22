"""Recurring report requests (e.g. a daily epidemic situation report): `ensure_instances`
creates, for each period up to the current one, one instance item whose owners are the request's owners
(each owner row is that unit's instance for the period, with its own status); `create_due_instances`
runs it for every active request (the sweep job). A missed instance is an owner still
unfinished at the period's deadline: the overdue sweep flags it (漏报) and escalates.

Periods are local (Asia/Shanghai): a day ("2026-01-05"), or an ISO week ("2026-W02") whose
deadline falls on the request's weekday. A request created after a period's deadline starts
with the next period. Catch-up: each sweep walks the periods from the request's start (at most
the last `CATCH_UP` periods) to the current one and creates every instance that is missing —
a period whose sweep did not run before its deadline (server down) still gets its instance,
already past its deadline, and the overdue sweep that follows flags its owners as 漏报.
Idempotent: existing period keys are skipped (and unique per request).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core.clock import SHANGHAI, now, to_utc
from zhengding.supervision import repository as repo
from zhengding.supervision.enums import ItemStatus, Priority, Recurrence, SourceKind, UpdateKind
from zhengding.supervision.models import SupervisionItem
from zhengding.supervision.schemas import ItemCreate, OwnerIn
from zhengding.supervision.service import assign, common


def period_of(template: SupervisionItem, at: datetime) -> tuple[str, datetime, str]:
    """(period key, deadline, label) of the period containing `at`."""
    local = at.astimezone(SHANGHAI)
    hh, mm = (int(x) for x in (template.due_time or "17:00").split(":"))
    if template.recurrence == Recurrence.WEEKLY:
        year, week, _ = local.isocalendar()
        monday = date.fromisocalendar(year, week, 1)
        day = monday + timedelta(days=(template.weekday or 5) - 1)
        key, label = f"{year}-W{week:02d}", f"{year}年第{week}周"
    else:
        day = local.date()
        key, label = day.isoformat(), f"{day.month}月{day.day}日"
    deadline = datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)
    return key, to_utc(deadline), label


CATCH_UP = 62  # periods looked back at most (two months of daily reports)


def _periods(template: SupervisionItem, at: datetime) -> list[tuple[str, datetime, str]]:
    """The periods from the request's start (or `CATCH_UP` periods back) up to the one containing `at`."""
    step = timedelta(days=7 if template.recurrence == Recurrence.WEEKLY else 1)
    start = max(template.created_at, at - step * (CATCH_UP - 1))
    out: list[tuple[str, datetime, str]] = []
    t = start
    while True:
        period = period_of(template, t)
        if not out or out[-1][0] != period[0]:
            out.append(period)
        if t >= at:
            break
        t = min(t + step, at)
    return out


async def ensure_instances(session: AsyncSession, template: SupervisionItem) -> list[SupervisionItem]:
    """Create the missing instances up to the current period (oldest first)."""
    if template.status != ItemStatus.RECURRING:
        return []
    at = now()
    periods = [
        (k, d, label)
        for k, d, label in _periods(template, at)
        if d > template.created_at and (template.recur_until is None or d <= template.recur_until)
    ]
    if not periods:
        return []
    existing = set(
        (
            await session.scalars(
                select(SupervisionItem.period_key).where(
                    SupervisionItem.template_id == template.id,
                    SupervisionItem.period_key.in_([k for k, _, _ in periods]),
                )
            )
        ).all()
    )
    return [
        await _create_instance(session, template, key, deadline, label)
        for key, deadline, label in periods
        if key not in existing
    ]


async def _create_instance(
    session: AsyncSession, template: SupervisionItem, key: str, deadline: datetime, label: str
) -> SupervisionItem:
    owners = await repo.owners_of(session, [template.id])
    body = ItemCreate(
        title=f"{template.title}（{label}）",
        content=template.content,
        source_kind=SourceKind(template.source_kind),
        source_ref=template.source_ref,
        priority=Priority(template.priority),
        deadline=deadline,
        owners=[OwnerIn(unit_id=o.unit_id, user_id=o.user_id, lead=o.role == "lead") for o in owners],
        remind_before_minutes=template.remind_before_minutes,
        sms_after_minutes=template.sms_after_minutes,
        requires_review=template.requires_review,
        weekday=template.weekday or 5,
    )
    owner_rows = [
        {
            "kind": o.kind,
            "role": o.role,
            "unit_id": o.unit_id,
            "user_id": o.user_id,
            "name": o.name,
            "stat_unit_id": o.stat_unit_id,
            "stat_unit_path": o.stat_unit_path,
        }
        for o in owners
    ]
    instance = await assign.insert_item(
        session,
        None,  # type: ignore[arg-type]  # a generated instance has no acting user
        body,
        unit_id=template.unit_id,
        unit_path=template.unit_path,
        unit_name=template.unit_name,
        owners=owner_rows,
        template=template,
        period_key=key,
        deadline=deadline,
        creator_id=template.created_by,
        creator_name=template.creator_name,
    )
    late = deadline <= now()
    common.add_update(
        session,
        instance,
        UpdateKind.ASSIGNED,
        None,
        text=f"周期报送：{label}" + ("（补生成：该期生成时已过报送时限）" if late else ""),
    )
    await assign.notify_assigned(session, None, instance, await repo.owners_of(session, [instance.id]), [])
    return instance


async def create_due_instances(session: AsyncSession) -> int:
    templates = (
        await session.scalars(select(SupervisionItem).where(SupervisionItem.status == ItemStatus.RECURRING))
    ).all()
    created = 0
    for template in templates:
        created += len(await ensure_instances(session, template))
    return created
