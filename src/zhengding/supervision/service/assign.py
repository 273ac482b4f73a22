"""Writing an assigned item and telling its owners: the two stages every assignment shares
— `create_item` and `split_item` (items.py) and each generated instance of a recurring request
(recurring.py).

Who is notified on assignment: the people acting for each owner (inbox entry + live
"supervision.item.assigned"), copied people (inbox), the board watchers (live).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core.clock import local_text, now
from zhengding.core.ids import new_id
from zhengding.notify.service import inbox
from zhengding.supervision.enums import ItemStatus, OwnerStatus
from zhengding.supervision.models import SupervisionCopy, SupervisionItem, SupervisionOwner
from zhengding.supervision.schemas import ItemCreate
from zhengding.supervision.service import common


async def insert_item(
    session: AsyncSession,
    actor: Actor,
    body: ItemCreate,
    *,
    unit_id: str,
    unit_path: str,
    unit_name: str,
    owners: list[dict[str, Any]],
    parent: SupervisionItem | None = None,
    parent_owner_id: str | None = None,
    template: SupervisionItem | None = None,
    period_key: str | None = None,
    deadline: datetime | None = None,
    creator_id: str | None = None,
    creator_name: str | None = None,
) -> SupervisionItem:
    item_id = new_id()
    recurring = body.recurrence is not None and template is None
    item = SupervisionItem(
        id=item_id,
        parent_id=parent.id if parent else None,
        parent_owner_id=parent_owner_id,
        root_id=parent.root_id if parent else item_id,
        template_id=template.id if template else None,
        period_key=period_key,
        title=body.title,
        content=body.content,
        source_kind=str(body.source_kind),
        source_ref=body.source_ref,
        priority=str(body.priority),
        deadline=None if recurring else (deadline or body.deadline),
        recurrence=str(body.recurrence) if recurring else None,
        due_time=body.due_time if recurring else None,
        weekday=body.weekday if recurring else None,
        recur_until=body.recur_until if recurring else None,
        requires_review=body.requires_review if body.requires_review is not None else body.recurrence is None,
        remind_before_minutes=body.remind_before_minutes
        if body.remind_before_minutes is not None
        else list(common.DEFAULT_REMINDERS),
        sms_after_minutes=body.sms_after_minutes or common.default_sms_after_minutes(),
        status=ItemStatus.RECURRING if recurring else ItemStatus.OPEN,
        progress=0,
        unit_id=unit_id,
        unit_path=unit_path,
        unit_name=unit_name,
        created_by=creator_id or actor.user_id,
        creator_name=creator_name or actor.name,
        created_at=now(),
        updated_at=now(),
    )
    session.add(item)
    await session.flush()
    rows = []
    next_remind = common.next_reminder(item.deadline, item.remind_before_minutes, [])
    for o in owners:
        row = SupervisionOwner(
            id=new_id(),
            item_id=item.id,
            deadline=item.deadline,
            status=OwnerStatus.ASSIGNED,
            percent=0,
            stage="",
            reminders_sent=[],
            next_remind_at=next_remind,
            urge_count=0,
            created_at=now(),
            **o,
        )
        session.add(row)
        rows.append(row)
    for uid in dict.fromkeys(body.copy_user_ids):
        session.add(SupervisionCopy(id=new_id(), item_id=item.id, user_id=uid, created_at=now()))
    await session.flush()
    if not recurring:
        for row in rows:
            await common.bump_stats(session, row, due=1)
    return item


async def notify_assigned(
    session: AsyncSession,
    actor: Actor | None,
    item: SupervisionItem,
    owners: list[SupervisionOwner],
    copy_ids: list[str],
) -> None:
    targets = await common.recipients(session, owners)
    people = [u for o in owners for u in targets[o.id] if not actor or u != actor.user_id]
    deadline = local_text(item.deadline, "%m-%d %H:%M") if item.deadline else "按周期报送"
    if people:
        await inbox.notify_users(
            session,
            people,
            kind="supervision.assigned",
            title=f"督办交办：{item.title}",
            body=f"办理时限 {deadline}，交办：{item.unit_name}",
            link=f"/supervision/{item.id}",
            object_type="supervision_item",
            object_id=item.id,
            sender_id=actor.user_id if actor else None,
        )
    if copy_ids:
        await inbox.notify_users(
            session,
            copy_ids,
            kind="supervision.copied",
            title=f"督办抄送：{item.title}",
            body=f"办理时限 {deadline}",
            link=f"/supervision/{item.id}",
            object_type="supervision_item",
            object_id=item.id,
            sender_id=actor.user_id if actor else None,
        )
    await common.publish(
        session,
        item,
        "supervision.item.assigned",
        {
            "deadline": item.deadline.isoformat() if item.deadline else None,
            "owner_ids": [o.id for o in owners],
        },
        extra_users=[*people, *copy_ids],
    )
