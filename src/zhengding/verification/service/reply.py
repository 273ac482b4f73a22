"""Reply 回单 and its review up the chain.

Use-cases: `reply_task` (the assigned grid worker: found / not found, current location, contact,
health status, control measure, note, photos), `review_reply` (accept or return for rework
with a reason), `add_photo` / `photo` (the reply's photos).

The reply climbs the task's chain: the holder reviews first; each accept hands it to the unit
above in the chain; an accept at the chain's root closes the task. A unit higher in the chain
may accept at once on its own level (the step jumps to it). A return sends the task back to
the grid worker (in progress) with the reason. Notified: the next reviewing unit's members, the
grid worker on a return, the chain on closing (live event).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.privacy import idcard
from zhengding.verification import repository as repo
from zhengding.verification.cells import Deltas, reply_bucket
from zhengding.verification.enums import EventKind, TaskStatus
from zhengding.verification.models import TaskPhoto, TaskReply, VerificationTask
from zhengding.verification.permissions import READ, REPLY, REVIEW
from zhengding.verification.service.common import event_row, insert_events

HEALTH_STATUSES = ("正常", "发热", "咳嗽等症状", "已就医", "其他")
MEASURES = ("无需管控", "居家健康监测", "居家隔离", "集中隔离", "送医", "已离开本辖区", "其他")
MAX_PHOTO_BYTES = 5 * 1_048_576
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"RIFF": "image/webp"}


async def reply_task(
    session: AsyncSession,
    actor: Actor,
    task_id: str,
    *,
    found: bool,
    location: str = "",
    contact: str = "",
    health_status: str = "",
    measure: str = "",
    note: str = "",
    photo_ids: list[str] | None = None,
) -> VerificationTask:
    task = await repo.access_task(session, actor, task_id, REPLY, for_update=True)
    if task.assignee_id != actor.user_id:
        raise NotFound(kind="verification_task", target_id=task.id, exists=True)
    if task.transfer_id:
        raise Conflict("任务正在转办中，暂不能回单")
    if task.status != TaskStatus.IN_PROGRESS:
        raise Conflict("任务当前状态不能回单")
    contact = contact.strip()
    if contact:
        phone = idcard.normalize_phone(contact)
        if idcard.phone_error(phone) is None:
            contact = phone
    if found and not location.strip():
        raise ValidationFailed("已找到人员时须填写当前所在地", [field_error("location", "必填")])
    photo_ids = list(dict.fromkeys(photo_ids or []))
    if photo_ids:
        owned = set(
            (
                await session.execute(
                    select(TaskPhoto.id).where(TaskPhoto.id.in_(photo_ids), TaskPhoto.task_id == task.id)
                )
            ).scalars()
        )
        if owned != set(photo_ids):
            raise ValidationFailed("照片不存在或不属于该任务", [field_error("photo_ids", "无效的照片")])
    at = now()
    reply = TaskReply(
        id=new_id(),
        task_id=task.id,
        replier_id=actor.user_id,
        replier_name=actor.name,
        found=found,
        location=location.strip() or None,
        contact=contact or None,
        health_status=health_status[:50],
        measure=measure[:50],
        note=note.strip()[:2000],
        photo_ids=photo_ids,
        status="pending",
        created_at=at,
    )
    session.add(reply)
    deltas = Deltas()
    deltas.move(
        task.owner_path, task.status, task.owner_path, TaskStatus.REPLIED, task.batch_id, task.stat_day
    )
    if task.overdue:
        deltas.add_path(task.owner_path, task.batch_id, task.stat_day, "overdue", -1)
        task.overdue = False
    if task.replied_at is None:
        seconds = (at - task.created_at).total_seconds()
        deltas.add_path(task.owner_path, task.batch_id, task.stat_day, "reply_count")
        deltas.add_path(task.owner_path, task.batch_id, task.stat_day, "reply_seconds", int(seconds))
        deltas.add_path(task.owner_path, task.batch_id, task.stat_day, reply_bucket(seconds))
        task.replied_at = at
    task.status = TaskStatus.REPLIED
    task.review_unit_id = task.chain[-1]
    await session.flush()
    await insert_events(
        session,
        [
            event_row(
                task,
                EventKind.REPLIED,
                actor,
                at=at,
                from_unit_id=task.owner_unit_id,
                to_unit_id=task.review_unit_id,
                detail={"found": found},
            )
        ],
    )
    await deltas.apply(session)
    await _notify_reviewers(session, actor, task)
    audit.record(
        session,
        actor,
        "verification.task.replied",
        target_type="verification_task",
        target_id=task.id,
        detail={"found": found, "photos": len(photo_ids)},
    )
    return task


async def _notify_reviewers(session: AsyncSession, actor: Actor, task: VerificationTask) -> None:
    if not task.review_unit_id:
        return
    members = await org_service.member_user_ids(session, [task.review_unit_id], subtree=False)
    await inbox.notify_users(
        session,
        [m for m in members if m != actor.user_id],
        kind="verification",
        title="核查回单待审核",
        body=f"{actor.name}提交了核查回单，请审核。",
        link=f"/verification/tasks/{task.id}",
        object_type="verification_task",
        object_id=task.id,
        sender_id=actor.user_id,
    )
    publish_event(session, "verification.reply.submitted", {"task_id": task.id}, units=[task.review_unit_id])


async def review_reply(
    session: AsyncSession, actor: Actor, task_id: str, *, accept: bool, reason: str = ""
) -> VerificationTask:
    task = await repo.access_task(session, actor, task_id, REVIEW, for_update=True)
    if task.status != TaskStatus.REPLIED or not task.review_unit_id:
        raise Conflict("任务当前没有待审核的回单")
    chain = list(task.chain)
    step = chain.index(task.review_unit_id)
    units = await repo.units_by_ids(session, chain)
    mine = {g.unit_id for g in actor.grants_for(REVIEW)}
    acting = next((j for j in range(step, -1, -1) if chain[j] in mine), None)
    if acting is None:
        if not in_scope(actor, REVIEW, path=units[chain[step]].path):
            raise NotFound(kind="verification_task", target_id=task.id, exists=True)
        acting = step
    reply = (
        (
            await session.execute(
                select(TaskReply)
                .where(TaskReply.task_id == task.id, TaskReply.status == "pending")
                .order_by(TaskReply.created_at.desc())
            )
        )
        .scalars()
        .first()
    )
    at = now()
    deltas = Deltas()
    acting_unit = chain[acting]
    if accept:
        if acting == 0:
            deltas.move(
                task.owner_path, task.status, task.owner_path, TaskStatus.CLOSED, task.batch_id, task.stat_day
            )
            task.status = TaskStatus.CLOSED
            task.closed_at = at
            task.review_unit_id = None
            if reply is not None:
                reply.status = "accepted"
            rows = [
                event_row(task, EventKind.REPLY_ACCEPTED, actor, at=at, from_unit_id=acting_unit),
                event_row(task, EventKind.CLOSED, actor, at=at, from_unit_id=acting_unit),
            ]
        else:
            task.review_unit_id = chain[acting - 1]
            rows = [
                event_row(
                    task,
                    EventKind.REPLY_ACCEPTED,
                    actor,
                    at=at,
                    from_unit_id=acting_unit,
                    to_unit_id=task.review_unit_id,
                )
            ]
    else:
        reason = reason.strip()
        if len(reason) < 2:
            raise ValidationFailed("退回须填写原因", [field_error("reason", "必填")])
        deltas.move(
            task.owner_path,
            task.status,
            task.owner_path,
            TaskStatus.IN_PROGRESS,
            task.batch_id,
            task.stat_day,
        )
        task.status = TaskStatus.IN_PROGRESS
        task.review_unit_id = None
        if reply is not None:
            reply.status = "returned"
            reply.return_reason = reason
        rows = [
            event_row(
                task,
                EventKind.REPLY_RETURNED,
                actor,
                at=at,
                from_unit_id=acting_unit,
                to_user_id=task.assignee_id,
                reason=reason,
            )
        ]
    await session.flush()
    await insert_events(session, rows)
    await deltas.apply(session)
    if accept and task.status == TaskStatus.REPLIED:
        await _notify_reviewers(session, actor, task)
    elif accept:
        publish_event(session, "verification.task.closed", {"task_id": task.id}, units=chain)
    else:
        if task.assignee_id:
            await inbox.notify_users(
                session,
                [task.assignee_id],
                kind="verification",
                title="核查回单被退回",
                body=f"退回原因：{reason}",
                link=f"/verification/tasks/{task.id}",
                object_type="verification_task",
                object_id=task.id,
                sender_id=actor.user_id,
            )
        publish_event(
            session,
            "verification.reply.returned",
            {"task_id": task.id},
            users=[task.assignee_id] if task.assignee_id else [],
            units=chain[acting + 1 :],
        )
    audit.record(
        session,
        actor,
        "verification.reply.accepted" if accept else "verification.reply.returned",
        target_type="verification_task",
        target_id=task.id,
        detail={"closed": task.status == TaskStatus.CLOSED, "reason": reason if not accept else None},
    )
    return task


async def add_photo(session: AsyncSession, actor: Actor, task_id: str, content: bytes) -> dict[str, Any]:
    task = await repo.access_task(session, actor, task_id, REPLY)
    if task.assignee_id != actor.user_id:
        raise NotFound(kind="verification_task", target_id=task.id, exists=True)
    if len(content) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge("照片不能超过 5 MB")
    kind = next((t for magic, t in PHOTO_TYPES.items() if content.startswith(magic)), None)
    if kind is None:
        raise ValidationFailed("仅支持 JPEG、PNG、WebP 照片", [field_error("file", "格式不支持")])
    photo = TaskPhoto(
        id=new_id(), task_id=task.id, uploaded_by=actor.user_id, content_type=kind, data=content
    )
    session.add(photo)
    await session.flush()
    audit.record(
        session,
        actor,
        "verification.photo.uploaded",
        target_type="verification_task",
        target_id=task.id,
        detail={"photo_id": photo.id, "bytes": len(content)},
    )
    return {"id": photo.id, "content_type": kind}


async def photo(session: AsyncSession, actor: Actor, photo_id: str) -> tuple[str, bytes]:
    row = (
        await session.execute(
            select(TaskPhoto.task_id, TaskPhoto.content_type, TaskPhoto.data).where(TaskPhoto.id == photo_id)
        )
    ).first()
    if row is None:
        raise NotFound(kind="verification_photo", target_id=photo_id)
    try:
        await repo.access_task(session, actor, row[0], READ)
    except NotFound:
        raise NotFound(kind="verification_photo", target_id=photo_id, exists=True) from None
    return row[1], row[2]
