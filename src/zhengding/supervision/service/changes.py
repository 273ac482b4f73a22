"""Assigner's changes to an open item: `change_deadline` (时限调整) and `cancel_item` (撤销).

- Changing the deadline moves it on the item and on every owner not yet accepted; their
  reminders are rescheduled from the new deadline (offsets already past are not re-sent), an
  overdue flag is lifted when the new deadline is ahead, and the statistics summary moves
  their "due"/"overdue" counts from the old deadline day to the new one. Accepted owners keep
  their deadline (their on-time result is settled). The people acting for the owners are told.
- Cancelling closes the item as 已撤销 (status "cancelled"): owners not yet accepted become
  "cancelled" (no more reminders, no overdue flag, off the to-do lists), every owner's counts
  are taken out of the statistics summary (a cancelled item counts neither as due nor on time),
  open sub-items split from it are cancelled with it. The owners' people are told.

Both are audited and leave a history row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core.clock import local_text, now
from zhengding.core.errors import Conflict, Forbidden, ValidationFailed, field_error
from zhengding.supervision import repository as repo
from zhengding.supervision.enums import ItemStatus, OwnerStatus, UpdateKind
from zhengding.supervision.models import SupervisionItem, SupervisionOwner
from zhengding.supervision.schemas import CancelCreate, DeadlineChange
from zhengding.supervision.service import common
from zhengding.supervision.service.progress import send_notice


def _fmt(at: Any) -> str:
    return local_text(at, "%m-%d %H:%M") if at else ""


async def _open_item_as_assigner(session: AsyncSession, actor: Actor, item_id: str) -> SupervisionItem:
    item = await common.access_item(session, actor, item_id)
    if not common.is_assigner(actor, item):
        raise Forbidden("只有交办方可以调整或撤销督办事项")
    if item.status != ItemStatus.OPEN:
        raise Conflict("该事项已办结或已撤销")
    return item


async def change_deadline(
    session: AsyncSession, actor: Actor, item_id: str, body: DeadlineChange
) -> dict[str, Any]:
    item = await _open_item_as_assigner(session, actor, item_id)
    new = body.deadline
    at = now()
    if new <= at:
        raise ValidationFailed(
            "办理时限须晚于当前时间", details=[field_error("deadline", "办理时限须晚于当前时间")]
        )
    if item.parent_id:
        parent = await session.get(SupervisionItem, item.parent_id)
        if parent is not None and parent.deadline is not None and new > parent.deadline:
            raise ValidationFailed(
                "子事项时限不能晚于上级事项时限",
                details=[field_error("deadline", "子事项时限不能晚于上级事项时限")],
            )
    old = item.deadline
    if old == new:
        raise ValidationFailed("新时限与原时限相同", details=[field_error("deadline", "新时限与原时限相同")])
    item.deadline, item.updated_at = new, at
    owners = await repo.owners_of(session, [item.id])
    moved: list[SupervisionOwner] = []
    for o in owners:
        if o.status == OwnerStatus.ACCEPTED:
            continue
        was_overdue = o.overdue_at is not None
        await common.bump_stats(session, o, due=-1, **({"overdue": -1} if was_overdue else {}))
        o.deadline = new
        o.overdue_at = None  # the new deadline is ahead
        o.reminders_sent = [m for m in o.reminders_sent if new.timestamp() - m * 60 <= at.timestamp()]
        o.next_remind_at = (
            common.next_reminder(new, item.remind_before_minutes, o.reminders_sent)
            if o.status != OwnerStatus.SUBMITTED
            else None
        )
        await common.bump_stats(session, o, due=1)
        moved.append(o)
    text = f"办理时限由 {_fmt(old)} 调整为 {_fmt(new)}" + (f"：{body.reason}" if body.reason.strip() else "")
    common.add_update(session, item, UpdateKind.DEADLINE, actor, text=text)
    audit.record(
        session,
        actor,
        "supervision.item.deadline_changed",
        target_type="supervision_item",
        target_id=item.id,
        detail={"old": old.isoformat() if old else None, "new": new.isoformat(), "owners": len(moved)},
    )
    people = await send_notice(
        session,
        item,
        moved,
        kind="supervision.deadline_changed",
        title=f"督办时限调整：{item.title}",
        body=text,
        actor=actor,
        sms=False,
    )
    await common.publish(
        session,
        item,
        "supervision.item.deadline_changed",
        {"deadline": new.isoformat(), "owner_ids": [o.id for o in moved]},
        extra_users=people,
    )
    return {"id": item.id, "deadline": item.deadline, "owners": len(moved), "recipients": len(people)}


async def _cancel(session: AsyncSession, actor: Actor, item: SupervisionItem, reason: str) -> list[str]:
    """Cancel one item and its open sub-items; the people told."""
    at = now()
    item.status, item.closed_at, item.updated_at = ItemStatus.CANCELLED, at, at
    owners = await repo.owners_of(session, [item.id])
    unfinished = [o for o in owners if o.status != OwnerStatus.ACCEPTED]
    for o in owners:
        deltas = {"due": -1}
        if o.status == OwnerStatus.ACCEPTED:
            submitted = o.submitted_at or o.accepted_at
            on_time = o.deadline is None or (submitted is not None and submitted <= o.deadline)
            deltas["on_time" if on_time else "late"] = -1
        if o.overdue_at is not None:
            deltas["overdue"] = -1
        await common.bump_stats(session, o, **deltas)
        if o.status != OwnerStatus.ACCEPTED:
            o.status = OwnerStatus.CANCELLED
        o.next_remind_at = None
    common.add_update(session, item, UpdateKind.CANCELLED, actor, text=f"事项已撤销：{reason}")
    people = await send_notice(
        session,
        item,
        unfinished,
        kind="supervision.cancelled",
        title=f"督办撤销：{item.title}",
        body=f"该督办事项已撤销：{reason}",
        actor=actor,
        sms=False,
    )
    await common.publish(session, item, "supervision.item.cancelled", {"reason": reason}, extra_users=people)
    for child in await repo.children_of(session, item.id):
        if child.status == ItemStatus.OPEN:
            people += await _cancel(session, actor, child, f"上级事项已撤销（{reason}）")
    return people


async def cancel_item(
    session: AsyncSession, actor: Actor, item_id: str, body: CancelCreate
) -> dict[str, Any]:
    item = await _open_item_as_assigner(session, actor, item_id)
    reason = body.reason.strip()
    if not reason:
        raise ValidationFailed("撤销须说明理由", details=[field_error("reason", "撤销须说明理由")])
    people = await _cancel(session, actor, item, reason)
    await session.flush()
    if item.parent_owner_id:  # the sub-item no longer counts in its parent owner's roll-up
        await common.recompute_progress(session, item)
    audit.record(
        session,
        actor,
        "supervision.item.cancelled",
        target_type="supervision_item",
        target_id=item.id,
        detail={"reason": reason[:200]},
    )
    return {"id": item.id, "status": item.status, "recipients": len(set(people))}
