"""DING (urgent message) use-cases: `send_ding`, `confirm_ding`, `remind_unread`, `ding_detail`,
`list_sent`, `list_received`, and `escalate_ding` (the outbox job after the delay).

Who is notified:
- send → every recipient: inbox entry + "notify.ding.received" (live); the sender gets nothing
  live except the response; an outbox row "notify.ding.escalate" is due after the delay.
- confirm → the sender: "notify.ding.read" (per-person, with time and counts), live.
- remind → the still-unread recipients only: "notify.ding.reminded" (and SMS when asked).
- escalate → SMS to each recipient still unread after the delay; the sender gets
  "notify.ding.escalated" with their ids.
Recipients are people picked one by one and whole units (their subtrees' members), all
within the sender's "notify.ding.send" scope; the sender is never a recipient.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import User
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import restrict
from zhengding.config import get_settings
from zhengding.core import outbox
from zhengding.core.clock import now
from zhengding.core.errors import NotFound, RateLimited, ValidationFailed
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.models import Ding, DingRecipient, Notification
from zhengding.notify.permissions import DING_SEND
from zhengding.notify.service import inbox
from zhengding.notify.sms import service as sms
from zhengding.notify.sms.templates import summarize
from zhengding.orgs import service as org_service
from zhengding.orgs.models import Membership, OrgUnit

ESCALATE_HANDLER = "notify.ding.escalate"
MAX_RECIPIENTS = 20000
REMIND_INTERVAL = timedelta(minutes=1)


def default_escalate_minutes() -> int:
    return get_settings().ding_escalate_minutes


async def _users_in_scope(session: AsyncSession, actor: Actor, user_ids: list[str]) -> set[str]:
    stmt = (
        select(Membership.user_id)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .where(Membership.user_id.in_(user_ids))
    )
    stmt = restrict(stmt, actor, DING_SEND, path=OrgUnit.path)
    return set((await session.scalars(stmt.distinct())).all())


async def resolve_recipients(
    session: AsyncSession, actor: Actor, user_ids: list[str], unit_ids: list[str]
) -> list[str]:
    picked = list(dict.fromkeys(user_ids))
    if picked:
        allowed = await _users_in_scope(session, actor, picked)
        outside = [i for i, u in enumerate(user_ids) if u not in allowed]
        if outside:  # the field names the position in the request, never the id
            raise NotFound(
                "所选人员不存在或不在您的管辖范围内",
                details=[
                    {"field": f"user_ids.{i}", "reason": "人员不存在或不在您的管辖范围内"}
                    for i in outside[:20]
                ],
            )
    members: list[str] = []
    if unit_ids:
        for unit_id in dict.fromkeys(unit_ids):
            await org_service.access_unit(session, actor, unit_id, DING_SEND)  # 404 outside scope
        members = await org_service.member_user_ids(session, list(dict.fromkeys(unit_ids)), subtree=True)
    candidates = [u for u in dict.fromkeys(picked + members) if u != actor.user_id]
    if not candidates:
        return []
    active: set[str] = set()
    for start in range(0, len(candidates), 5000):
        chunk = candidates[start : start + 5000]
        active |= set(
            (
                await session.scalars(
                    select(User.id).where(User.id.in_(chunk), User.status != UserStatus.DISABLED)
                )
            ).all()
        )
    return [u for u in candidates if u in active]


async def send_ding(
    session: AsyncSession,
    actor: Actor,
    *,
    content: str,
    user_ids: list[str],
    unit_ids: list[str],
    escalate_after_minutes: int | None = None,
    sms: bool = True,
    object_type: str | None = None,
    object_id: str | None = None,
) -> Ding:
    content = content.strip()
    if not content:
        raise ValidationFailed("DING 内容不能为空", details=[{"field": "content", "reason": "必填"}])
    recipients = await resolve_recipients(session, actor, user_ids, unit_ids)
    if not recipients:
        raise ValidationFailed(
            "没有可接收的人员", details=[{"field": "user_ids", "reason": "没有可接收的人员"}]
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise ValidationFailed(f"一次 DING 最多 {MAX_RECIPIENTS} 人")
    delay = default_escalate_minutes() if escalate_after_minutes is None else escalate_after_minutes
    at = now()
    ding = Ding(
        id=new_id(),
        sender_id=actor.user_id,
        sender_name=actor.name,
        content=content,
        object_type=object_type,
        object_id=object_id,
        unit_ids=list(dict.fromkeys(unit_ids)),
        recipient_count=len(recipients),
        escalate_after_minutes=delay,
        sms_enabled=sms,
        created_at=at,
    )
    session.add(ding)
    await session.flush()
    title = f"{actor.name}发来DING消息"
    notification_ids = await inbox.notify_users(
        session,
        recipients,
        kind="ding",
        title=title,
        body=content,
        link=f"/ding/{ding.id}",
        object_type="ding",
        object_id=ding.id,
        sender_id=actor.user_id,
        source=f"ding:{ding.id}",
        push=False,
    )
    await session.execute(
        insert(DingRecipient),
        [
            {
                "id": new_id(),
                "ding_id": ding.id,
                "user_id": u,
                "notification_id": notification_ids[u],
                "read_at": None,
                "sms_at": None,
                "remind_count": 0,
                "last_reminded_at": None,
            }
            for u in recipients
        ],
    )
    if sms:
        outbox.enqueue(session, ESCALATE_HANDLER, {"ding_id": ding.id}, delay=timedelta(minutes=delay))
    publish_event(
        session,
        "notify.ding.received",
        {
            "ding_id": ding.id,
            "sender_id": actor.user_id,
            "sender_name": actor.name,
            "content": content[:500],
            "link": f"/ding/{ding.id}",
            "created_at": at.isoformat(),
            "title": title,
        },
        users=recipients,
    )
    audit.record(
        session,
        actor,
        "notify.ding.send",
        target_type="ding",
        target_id=ding.id,
        detail={"recipients": len(recipients), "units": len(ding.unit_ids)},
    )
    return ding


async def _get_ding(session: AsyncSession, ding_id: str) -> Ding:
    ding = await session.get(Ding, ding_id)
    if ding is None:
        raise NotFound(kind="ding", target_id=ding_id)
    return ding


async def access_ding(session: AsyncSession, actor: Actor, ding_id: str) -> tuple[Ding, DingRecipient | None]:
    """The sender and the recipients may load a DING; anyone else gets 404."""
    ding = await _get_ding(session, ding_id)
    mine = (
        await session.scalars(
            select(DingRecipient).where(
                DingRecipient.ding_id == ding_id, DingRecipient.user_id == actor.user_id
            )
        )
    ).first()
    if ding.sender_id != actor.user_id and mine is None:
        raise NotFound(kind="ding", target_id=ding.id, exists=True)
    return ding, mine


async def _counts(session: AsyncSession, ding_id: str) -> tuple[int, int]:
    read_count, total = (
        await session.execute(
            select(func.count(DingRecipient.read_at), func.count()).where(DingRecipient.ding_id == ding_id)
        )
    ).one()
    return read_count, total - read_count


async def confirm_ding(session: AsyncSession, actor: Actor, ding_id: str) -> dict[str, Any]:
    ding, mine = await access_ding(session, actor, ding_id)
    if mine is None:  # the sender: not a recipient, answered as for anyone else's DING
        raise NotFound(kind="ding", target_id=ding.id, exists=True)
    if mine.read_at is None:
        at = now()
        result = await session.execute(
            update(DingRecipient)
            .where(DingRecipient.id == mine.id, DingRecipient.read_at.is_(None))
            .values(read_at=at)
        )
        if cast(CursorResult[Any], result).rowcount:
            mine.read_at = at
            await inbox.mark_read_internal(session, actor.user_id, [mine.notification_id or ""])
            read_count, unread_count = await _counts(session, ding_id)
            publish_event(
                session,
                "notify.ding.read",
                {
                    "ding_id": ding_id,
                    "user_id": actor.user_id,
                    "name": actor.name,
                    "read_at": at.isoformat(),
                    "read_count": read_count,
                    "unread_count": unread_count,
                },
                users=[ding.sender_id],
            )
    return {"ding_id": ding_id, "read_at": mine.read_at}


async def remind_unread(
    session: AsyncSession, actor: Actor, ding_id: str, *, sms: bool = False
) -> dict[str, Any]:
    ding = await _get_ding(session, ding_id)
    if ding.sender_id != actor.user_id:
        raise NotFound(kind="ding", target_id=ding.id, exists=True)
    at = now()
    if ding.last_reminded_at is not None and at - ding.last_reminded_at < REMIND_INTERVAL:
        raise RateLimited("提醒过于频繁，请 1 分钟后再试")
    unread = list(
        (
            await session.scalars(
                select(DingRecipient.user_id).where(
                    DingRecipient.ding_id == ding_id, DingRecipient.read_at.is_(None)
                )
            )
        ).all()
    )
    ding.last_reminded_at = at
    if unread:
        await session.execute(
            update(DingRecipient)
            .where(DingRecipient.ding_id == ding_id, DingRecipient.read_at.is_(None))
            .values(remind_count=DingRecipient.remind_count + 1, last_reminded_at=at)
        )
        publish_event(
            session,
            "notify.ding.reminded",
            {
                "ding_id": ding_id,
                "sender_name": ding.sender_name,
                "content": ding.content[:500],
                "link": f"/ding/{ding_id}",
                "reminded_at": at.isoformat(),
            },
            users=unread,
        )
        if sms:
            await _sms_unread(session, ding, unread)
    audit.record(
        session,
        actor,
        "notify.ding.remind",
        target_type="ding",
        target_id=ding_id,
        detail={"unread": len(unread), "sms": sms},
    )
    return {"ding_id": ding_id, "reminded": len(unread), "sms": sms and bool(unread)}


async def _sms_unread(session: AsyncSession, ding: Ding, user_ids: list[str]) -> list[str]:
    from zhengding.accounts.service import users as user_service

    phones = await user_service.phones_for(session, user_ids)
    sent = []
    for user_id in user_ids:
        phone = phones.get(user_id)
        if not phone:
            continue
        await sms.queue_sms(
            session,
            phone=phone,
            template="ding_unread",
            user_id=user_id,
            object_type="ding",
            object_id=ding.id,
            params={"sender": ding.sender_name, "summary": summarize(ding.content)},
        )
        sent.append(user_id)
    return sent


async def escalate_ding(session: AsyncSession, ding_id: str) -> list[str]:
    """SMS to recipients still unread (once each); returns their ids."""
    ding = await session.get(Ding, ding_id)
    if ding is None or not ding.sms_enabled:
        return []
    unread = list(
        (
            await session.scalars(
                select(DingRecipient.user_id).where(
                    DingRecipient.ding_id == ding_id,
                    DingRecipient.read_at.is_(None),
                    DingRecipient.sms_at.is_(None),
                )
            )
        ).all()
    )
    if not unread:
        return []
    sent = await _sms_unread(session, ding, unread)
    await session.execute(
        update(DingRecipient)
        .where(DingRecipient.ding_id == ding_id, DingRecipient.user_id.in_(unread))
        .values(sms_at=now())
    )
    publish_event(
        session, "notify.ding.escalated", {"ding_id": ding_id, "user_ids": sent}, users=[ding.sender_id]
    )
    return sent


def _ding_read(ding: Ding) -> dict[str, Any]:
    return {
        "id": ding.id,
        "sender_id": ding.sender_id,
        "sender_name": ding.sender_name,
        "content": ding.content,
        "object_type": ding.object_type,
        "object_id": ding.object_id,
        "recipient_count": ding.recipient_count,
        "escalate_after_minutes": ding.escalate_after_minutes,
        "sms_enabled": ding.sms_enabled,
        "last_reminded_at": ding.last_reminded_at,
        "created_at": ding.created_at,
    }


async def ding_detail(session: AsyncSession, actor: Actor, ding_id: str) -> dict[str, Any]:
    """The sender sees per-person read/unread lists with times; a recipient sees their own state."""
    ding, mine = await access_ding(session, actor, ding_id)
    out = _ding_read(ding)
    if mine is not None:
        out["my_read_at"] = mine.read_at
    if ding.sender_id != actor.user_id:
        return out
    rows = (
        await session.execute(
            select(DingRecipient, User.name)
            .join(User, User.id == DingRecipient.user_id)
            .where(DingRecipient.ding_id == ding_id)
            .order_by(DingRecipient.read_at, User.name)
        )
    ).all()
    units = await _primary_units(session, [r.user_id for r, _ in rows])
    read: list[dict[str, Any]] = []
    unread: list[dict[str, Any]] = []
    for r, name in rows:
        person = {
            "user_id": r.user_id,
            "name": name,
            "unit_name": units.get(r.user_id),
            "read_at": r.read_at,
            "sms_at": r.sms_at,
            "remind_count": r.remind_count,
            "last_reminded_at": r.last_reminded_at,
        }
        (read if r.read_at else unread).append(person)
    out.update(read=read, unread=unread, read_count=len(read), unread_count=len(unread))
    return out


async def _primary_units(session: AsyncSession, user_ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for start in range(0, len(user_ids), 5000):
        chunk = user_ids[start : start + 5000]
        rows = (
            await session.execute(
                select(Membership.user_id, OrgUnit.name)
                .join(OrgUnit, OrgUnit.id == Membership.unit_id)
                .where(Membership.user_id.in_(chunk))
                .order_by(Membership.is_primary)
            )
        ).all()
        for user_id, name in rows:
            out[user_id] = name  # primary last, so it wins
    return out


async def list_sent(
    session: AsyncSession, actor: Actor, *, before: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    stmt = select(Ding).where(Ding.sender_id == actor.user_id)
    if before:
        stmt = stmt.where(Ding.id < before)
    dings = list((await session.scalars(stmt.order_by(Ding.id.desc()).limit(limit))).all())
    counts = (
        dict(
            (
                await session.execute(
                    select(DingRecipient.ding_id, func.count(DingRecipient.read_at))
                    .where(DingRecipient.ding_id.in_([d.id for d in dings]))
                    .group_by(DingRecipient.ding_id)
                )
            ).all()
        )
        if dings
        else {}
    )
    return [
        {
            **_ding_read(d),
            "read_count": counts.get(d.id, 0),
            "unread_count": d.recipient_count - counts.get(d.id, 0),
        }
        for d in dings
    ]


async def list_received(
    session: AsyncSession,
    actor: Actor,
    *,
    unread_only: bool = False,
    before: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    stmt = (
        select(Ding, DingRecipient.read_at)
        .join(DingRecipient, DingRecipient.ding_id == Ding.id)
        .where(DingRecipient.user_id == actor.user_id)
    )
    if unread_only:
        stmt = stmt.where(DingRecipient.read_at.is_(None))
    if before:
        stmt = stmt.where(Ding.id < before)
    rows = (await session.execute(stmt.order_by(Ding.id.desc()).limit(limit))).all()
    return [{**_ding_read(d), "my_read_at": read_at} for d, read_at in rows]


async def unread_notification_ids(session: AsyncSession, ids: list[str]) -> list[tuple[str, str]]:
    rows = (
        await session.execute(
            select(Notification.id, Notification.user_id).where(
                Notification.id.in_(ids), Notification.read_at.is_(None)
            )
        )
    ).all()
    return [(i, u) for i, u in rows]
