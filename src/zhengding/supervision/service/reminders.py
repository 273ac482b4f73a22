"""Time-driven use-cases, run by the sweep job (zhengding.supervision.jobs):

- `send_due_reminders`: before the deadline (per item, default 24 h and 2 h), each unfinished
  owner's people get a reminder (inbox + live, SMS when still unread after the item's delay).
  When several offsets are due at once (the job did not run), one reminder is sent.
- `escalate_overdue`: an unfinished owner past its deadline is flagged once (red on every
  board), its people are told, and the owner unit's leaders get an escalation (SMS when
  unread after the delay). Leaders are those kept in `supervision_leaders` for the unit;
  without any, the unit's command-role holders (the people acting for it). The assigner is
  told in the inbox; statistics count the owner as overdue on its deadline day.

Both are idempotent: a reminder offset, an overdue flag is recorded on the owner row first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core.clock import local_text, now
from zhengding.notify.service import inbox
from zhengding.supervision import repository as repo
from zhengding.supervision.enums import UNFINISHED, ItemStatus, UpdateKind
from zhengding.supervision.models import SupervisionItem, SupervisionOwner
from zhengding.supervision.service import common
from zhengding.supervision.service.progress import send_notice

BATCH = 500


def _left(minutes: int) -> str:
    if minutes >= 24 * 60 and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}天"
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"


async def send_due_reminders(session: AsyncSession) -> int:
    at = now()
    rows = (
        await session.execute(
            select(SupervisionOwner, SupervisionItem)
            .join(SupervisionItem, SupervisionItem.id == SupervisionOwner.item_id)
            .where(
                SupervisionOwner.next_remind_at <= at,
                SupervisionOwner.status.in_([str(s) for s in UNFINISHED]),
                SupervisionItem.status == ItemStatus.OPEN,
            )
            .order_by(SupervisionOwner.next_remind_at)
            .limit(BATCH)
        )
    ).all()
    sent = 0
    for owner, item in rows:
        if owner.deadline is None or owner.deadline <= at:
            owner.next_remind_at = None  # past the deadline: the overdue sweep takes over
            continue
        left = owner.deadline - at
        due = [
            m
            for m in item.remind_before_minutes
            if m not in owner.reminders_sent and owner.deadline.timestamp() - m * 60 <= at.timestamp()
        ]
        owner.reminders_sent = sorted({*owner.reminders_sent, *due}, reverse=True)
        owner.next_remind_at = common.next_reminder(
            owner.deadline, item.remind_before_minutes, owner.reminders_sent
        )
        if not due:
            continue
        text = f"距办理时限还有约{_left(max(1, round(left.total_seconds() / 60)))}，请及时办理并报送"
        await send_notice(
            session, item, [owner], kind="supervision.reminder", title=f"督办提醒：{item.title}", body=text
        )
        common.add_update(session, item, UpdateKind.REMINDED, None, owner_id=owner.id, text=text)
        sent += 1
    return sent


async def escalate_overdue(session: AsyncSession) -> int:
    at = now()
    rows = (
        await session.execute(
            select(SupervisionOwner, SupervisionItem)
            .join(SupervisionItem, SupervisionItem.id == SupervisionOwner.item_id)
            .where(
                SupervisionOwner.deadline < at,
                SupervisionOwner.overdue_at.is_(None),
                SupervisionOwner.status.in_([str(s) for s in UNFINISHED]),
                SupervisionItem.status == ItemStatus.OPEN,
            )
            .order_by(SupervisionOwner.deadline)
            .limit(BATCH)
        )
    ).all()
    if not rows:
        return 0
    leaders = await repo.leaders_of(session, list({o.stat_unit_id for o, _ in rows}))
    fallback = await repo.acting_user_ids(session, list({o.stat_unit_id for o, _ in rows}))
    for owner, item in rows:
        owner.overdue_at = at
        owner.next_remind_at = None
        await common.bump_stats(session, owner, overdue=1)
        label = "漏报" if item.template_id else "逾期"
        deadline = local_text(item.deadline, "%m-%d %H:%M") if item.deadline else ""
        people = await send_notice(
            session,
            item,
            [owner],
            kind="supervision.overdue",
            title=f"督办{label}：{item.title}",
            body=f"已超过办理时限（{deadline}），请立即办理并报送",
        )
        bosses = leaders.get(owner.stat_unit_id) or fallback.get(owner.stat_unit_id, [])
        bosses = [u for u in bosses if u not in people or not leaders.get(owner.stat_unit_id)]
        if bosses:
            await inbox.notify_users(
                session,
                bosses,
                kind="supervision.escalated",
                title=f"督办{label}升级：{item.title}",
                body=f"承办：{owner.name}，已超过办理时限（{deadline}）",
                link=f"/supervision/{item.id}",
                object_type="supervision_item",
                object_id=item.id,
                sms_after=common.minutes(item.sms_after_minutes),
            )
        await inbox.notify_users(
            session,
            [item.created_by],
            kind="supervision.overdue",
            title=f"督办{label}：{item.title}",
            body=f"承办：{owner.name}",
            link=f"/supervision/{item.id}",
            object_type="supervision_item",
            object_id=item.id,
        )
        common.add_update(
            session,
            item,
            UpdateKind.OVERDUE,
            None,
            owner_id=owner.id,
            text=f"{label}，已升级至{owner.name}所在单位领导" if bosses else label,
        )
        await common.publish(
            session, item, "supervision.item.overdue", {"owner_id": owner.id}, extra_users=[*people, *bosses]
        )
    return len(rows)
