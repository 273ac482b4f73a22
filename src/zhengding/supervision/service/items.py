"""Assignment use-cases: `create_item` (交办, also recurring requests), `split_item` (an owner
assigns part of its work further down: a sub-item whose progress rolls up), `item_detail`,
`stop_recurring`.

Who is notified on assignment: the people acting for each owner (inbox entry + live
"supervision.item.assigned"), copied people (inbox), the board watchers (live).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core import files
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from zhengding.orgs.models import OrgUnit
from zhengding.supervision import repository as repo
from zhengding.supervision.enums import LABELS, ItemStatus, OwnerKind, OwnerRole, OwnerStatus, UpdateKind
from zhengding.supervision.models import SupervisionItem, SupervisionOwner
from zhengding.supervision.permissions import ASSIGN
from zhengding.supervision.schemas import ItemCreate, SplitCreate
from zhengding.supervision.service import assign, common, recurring

FILE_OWNER = "supervision.item"


def _assigning_grant(actor: Actor, unit_id: str | None) -> tuple[str, str]:
    grants = actor.grants_for(ASSIGN)
    if not grants:
        raise Forbidden()
    if unit_id is None:
        return grants[0].unit_id, grants[0].unit_path
    for g in grants:
        if g.unit_id == unit_id:
            return g.unit_id, g.unit_path
    raise NotFound("交办单位不存在或无权以该单位交办")


async def _resolve_owners(session: AsyncSession, actor: Actor, body: ItemCreate) -> list[dict[str, Any]]:
    """Owners within the actor's assign scope; exactly one lead (the first when none is marked)."""
    unit_ids = [o.unit_id for o in body.owners if o.unit_id]
    user_ids = [o.user_id for o in body.owners if o.user_id]
    if len(set(unit_ids)) != len(unit_ids) or len(set(user_ids)) != len(user_ids):
        raise ValidationFailed("承办对象重复", details=[field_error("owners", "承办对象重复")])
    if sum(1 for o in body.owners if o.lead) > 1:
        raise ValidationFailed(
            "只能有一个牵头承办对象", details=[field_error("owners", "只能有一个牵头承办对象")]
        )
    units = await repo.units_by_ids(session, unit_ids)
    for i, o in enumerate(body.owners):  # the field names the owner's position, never its id
        unit = units.get(o.unit_id) if o.unit_id else None
        if o.unit_id and (unit is None or not in_scope(actor, ASSIGN, path=unit.path)):
            raise NotFound(
                "承办单位不存在或不在您的管辖范围内",
                details=[field_error(f"owners.{i}.unit_id", "承办单位不存在或不在您的管辖范围内")],
            )
    allowed = await repo.users_in_scope(session, actor, ASSIGN, [u for u in user_ids if u])
    missing = [i for i, o in enumerate(body.owners) if o.user_id and o.user_id not in allowed]
    if missing:
        raise NotFound(
            "承办人不存在或不在您的管辖范围内",
            details=[field_error(f"owners.{i}.user_id", "承办人不存在或不在您的管辖范围内") for i in missing],
        )
    users = await repo.users_by_ids(session, [u for u in user_ids if u])
    primary = await repo.primary_units(session, [u for u in user_ids if u])
    lead_index = next((i for i, o in enumerate(body.owners) if o.lead), 0)
    out = []
    for i, o in enumerate(body.owners):
        role = OwnerRole.LEAD if i == lead_index else OwnerRole.CO
        if o.unit_id:
            unit = units[o.unit_id]
            out.append(
                {
                    "kind": OwnerKind.UNIT,
                    "role": role,
                    "unit_id": unit.id,
                    "user_id": None,
                    "name": unit.name,
                    "stat_unit_id": unit.id,
                    "stat_unit_path": unit.path,
                }
            )
        else:
            assert o.user_id is not None
            home: OrgUnit = primary[o.user_id]
            out.append(
                {
                    "kind": OwnerKind.USER,
                    "role": role,
                    "unit_id": None,
                    "user_id": o.user_id,
                    "name": users[o.user_id].name,
                    "stat_unit_id": home.id,
                    "stat_unit_path": home.path,
                }
            )
    return out


def _check_deadline(body: ItemCreate) -> None:
    if body.recurrence is None:
        if body.deadline is None:
            raise ValidationFailed("请填写办理时限", details=[field_error("deadline", "请填写办理时限")])
        if body.deadline <= now():
            raise ValidationFailed(
                "办理时限须晚于当前时间", details=[field_error("deadline", "办理时限须晚于当前时间")]
            )


async def create_item(session: AsyncSession, actor: Actor, body: ItemCreate) -> SupervisionItem:
    unit_id, unit_path = _assigning_grant(actor, body.unit_id)
    _check_deadline(body)
    owners = await _resolve_owners(session, actor, body)
    copies = await repo.users_in_scope(session, actor, "directory.read", body.copy_user_ids)
    if len(copies) != len(set(body.copy_user_ids)):
        raise NotFound(
            "抄送人不存在或无权查看", details=[field_error("copy_user_ids", "抄送人不存在或无权查看")]
        )
    unit = (await repo.units_by_ids(session, [unit_id]))[unit_id]
    item = await assign.insert_item(
        session, actor, body, unit_id=unit_id, unit_path=unit_path, unit_name=unit.name, owners=owners
    )
    if body.attachment_ids:
        await files.attach_files(session, actor.user_id, body.attachment_ids, FILE_OWNER, item.id)
    common.add_update(
        session, item, UpdateKind.ASSIGNED, actor, text=body.content[:500], file_ids=body.attachment_ids
    )
    audit.record(
        session,
        actor,
        "supervision.item.created",
        target_type="supervision_item",
        target_id=item.id,
        detail={"owners": len(owners), "recurrence": body.recurrence, "priority": str(body.priority)},
    )
    if item.status == ItemStatus.RECURRING:
        await recurring.ensure_instances(session, item)
        await common.publish(session, item, "supervision.item.assigned", {"recurring": True})
    else:
        await assign.notify_assigned(
            session,
            actor,
            item,
            await repo.owners_of(session, [item.id]),
            list(dict.fromkeys(body.copy_user_ids)),
        )
    return item


async def split_item(session: AsyncSession, actor: Actor, item_id: str, body: SplitCreate) -> SupervisionItem:
    """An owner hands part of its work down: a sub-item assigned by the owner's unit."""
    parent = await common.access_item(session, actor, item_id)
    owner = await common.owner_for(session, parent, body.owner_id)
    if not common.acts_for(actor, owner) or not actor.can(ASSIGN):
        raise Forbidden("只有承办单位的指挥部人员可以分解交办")
    if owner.status == OwnerStatus.ACCEPTED or parent.status != ItemStatus.OPEN:
        raise Conflict("该事项已办结，不能再分解")
    if body.recurrence is not None:
        raise ValidationFailed(
            "子事项不能是周期报送", details=[field_error("recurrence", "子事项不能是周期报送")]
        )
    deadline = body.deadline
    if deadline is not None and parent.deadline is not None and deadline > parent.deadline:
        raise ValidationFailed(
            "子事项时限不能晚于上级事项时限",
            details=[field_error("deadline", "子事项时限不能晚于上级事项时限")],
        )
    _check_deadline(body)
    grant_unit = owner.unit_id or owner.stat_unit_id
    unit_id, unit_path = _assigning_grant(
        actor, grant_unit if any(g.unit_id == grant_unit for g in actor.grants_for(ASSIGN)) else None
    )
    owners = await _resolve_owners(session, actor, body)
    unit = (await repo.units_by_ids(session, [unit_id]))[unit_id]
    child = await assign.insert_item(
        session,
        actor,
        body,
        unit_id=unit_id,
        unit_path=unit_path,
        unit_name=unit.name,
        owners=owners,
        parent=parent,
        parent_owner_id=owner.id,
    )
    if body.attachment_ids:
        await files.attach_files(session, actor.user_id, body.attachment_ids, FILE_OWNER, child.id)
    if owner.status == OwnerStatus.ASSIGNED:
        owner.status = OwnerStatus.IN_PROGRESS
    common.add_update(
        session, child, UpdateKind.ASSIGNED, actor, text=body.content[:500], file_ids=body.attachment_ids
    )
    common.add_update(
        session, parent, UpdateKind.SPLIT, actor, owner_id=owner.id, text=f"分解交办子事项：{child.title}"
    )
    await session.flush()
    await common.recompute_progress(session, child)
    audit.record(
        session,
        actor,
        "supervision.item.split",
        target_type="supervision_item",
        target_id=child.id,
        detail={"parent_id": parent.id, "owners": len(owners)},
    )
    await assign.notify_assigned(
        session,
        actor,
        child,
        await repo.owners_of(session, [child.id]),
        list(dict.fromkeys(body.copy_user_ids)),
    )
    return child


async def stop_recurring(session: AsyncSession, actor: Actor, item_id: str) -> SupervisionItem:
    item = await common.access_item(session, actor, item_id)
    if not common.is_assigner(actor, item):
        raise NotFound(kind="supervision_item", target_id=item.id, exists=True)
    if item.status != ItemStatus.RECURRING:
        raise Conflict("该事项不是进行中的周期报送")
    item.status, item.updated_at = ItemStatus.STOPPED, now()
    audit.record(
        session, actor, "supervision.item.stopped", target_type="supervision_item", target_id=item.id
    )
    await common.publish(session, item, "supervision.item.stopped", {})
    return item


# --- reads -------------------------------------------------------------------------------------


def owner_read(o: SupervisionOwner, actor: Actor | None = None, at: datetime | None = None) -> dict[str, Any]:
    overdue = common.is_overdue(o.deadline, o.status, at)
    return {
        "id": o.id,
        "kind": o.kind,
        "role": o.role,
        "unit_id": o.unit_id,
        "user_id": o.user_id,
        "name": o.name,
        "status": o.status,
        "status_label": LABELS.get(OwnerStatus(o.status), o.status),
        "percent": common.effective_percent(o),
        "reported_percent": o.percent,
        "sub_percent": o.sub_percent,
        "stage": o.stage,
        "last_report_at": o.last_report_at,
        "submitted_at": o.submitted_at,
        "accepted_at": o.accepted_at,
        "returned_reason": o.returned_reason,
        "overdue": overdue,
        "overdue_at": o.overdue_at,
        "missed": bool(o.overdue_at) and o.status not in (OwnerStatus.ACCEPTED, OwnerStatus.CANCELLED),
        "urge_count": o.urge_count,
        "last_urged_at": o.last_urged_at,
        "mine": bool(actor and common.acts_for(actor, o)),
    }


def item_read(
    item: SupervisionItem,
    owners: list[SupervisionOwner],
    actor: Actor | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    at = at or now()
    reads = [owner_read(o, actor, at) for o in owners]
    counts: dict[str, int] = {}
    for o in owners:
        counts[o.status] = counts.get(o.status, 0) + 1
    return {
        "id": item.id,
        "title": item.title,
        "priority": item.priority,
        "source_kind": item.source_kind,
        "source_ref": item.source_ref,
        "deadline": item.deadline,
        "status": item.status,
        "progress": item.progress,
        "unit_id": item.unit_id,
        "unit_name": item.unit_name,
        "creator_name": item.creator_name,
        "created_by": item.created_by,
        "parent_id": item.parent_id,
        "root_id": item.root_id,
        "template_id": item.template_id,
        "period_key": item.period_key,
        "recurrence": item.recurrence,
        "due_time": item.due_time,
        "weekday": item.weekday,
        "overdue": any(r["overdue"] for r in reads),
        "owners": reads,
        "owner_counts": counts,
        "created_at": item.created_at,
        "closed_at": item.closed_at,
        "updated_at": item.updated_at,
    }


async def item_detail(session: AsyncSession, actor: Actor, item_id: str) -> dict[str, Any]:
    item = await common.access_item(session, actor, item_id)
    owners = await repo.owners_of(session, [item.id])
    out = item_read(item, owners, actor)
    assigner = common.is_assigner(actor, item)
    updates = await repo.updates_of(session, item.id)
    file_ids = [f for u in updates for f in u.file_ids]
    attached = {f.id: f for f in await files.files_by_ids(session, file_ids)}
    children = await repo.children_of(session, item.id)
    child_owners = await repo.owners_of(session, [c.id for c in children])
    instances = await repo.instances_of(session, item.id) if item.recurrence else []
    inst_owners = await repo.owners_of(session, [i.id for i in instances])
    parent = await session.get(SupervisionItem, item.parent_id) if item.parent_id else None
    out.update(
        {
            "content": item.content,
            "requires_review": item.requires_review,
            "remind_before_minutes": item.remind_before_minutes,
            "sms_after_minutes": item.sms_after_minutes,
            "copies": [{"id": i, "name": n} for i, n in await repo.copies_of(session, item.id)],
            "history": [
                {
                    "id": u.id,
                    "kind": u.kind,
                    "owner_id": u.owner_id,
                    "actor_name": u.actor_name,
                    "text": u.text,
                    "percent": u.percent,
                    "stage": u.stage,
                    "created_at": u.created_at,
                    "attachments": [files.read(attached[f]) for f in u.file_ids if f in attached],
                }
                for u in updates
            ],
            "children": [
                item_read(c, [o for o in child_owners if o.item_id == c.id], actor) for c in children
            ],
            "instances": [
                item_read(i, [o for o in inst_owners if o.item_id == i.id], actor) for i in instances
            ],
            "parent": {"id": parent.id, "title": parent.title} if parent else None,
            "can_assign": assigner,
            "can_review": assigner and item.requires_review,
            "can_urge": assigner and item.status == ItemStatus.OPEN,
            "can_split": actor.can(ASSIGN) and item.status == ItemStatus.OPEN,
            "can_change": assigner and item.status == ItemStatus.OPEN,
        }
    )
    return out
