"""Inbox use-cases: `notify_users` (entries + live push, optional SMS when still unread),
`list_notifications`, `unread_count`, `mark_read`, `mark_all_read`.

Other domains call `notify_users` inside their transaction (the entries commit with the
business change), or enqueue the outbox handler "notify.deliver" from a job.
Events: "notify.notification.created" to the recipients (one event, shared payload);
"notify.notification.read" to the reader (their other devices update the badge).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core import outbox
from zhengding.core.clock import now
from zhengding.core.errors import NotFound
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.models import Notification

ESCALATE_HANDLER = "notify.notification.escalate"


async def notify_users(
    session: AsyncSession,
    user_ids: Sequence[str],
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    sender_id: str | None = None,
    source: str | None = None,
    sms_after: timedelta | None = None,
    sms_template: str = "notice_unread",
    push: bool = True,
) -> dict[str, str]:
    """One inbox entry per user; returns {user_id: notification_id}.

    With `sms_after`, an outbox row sends an SMS to those still unread after that delay.
    """
    users = list(dict.fromkeys(user_ids))
    if not users:
        return {}
    at = now()
    ids = {u: new_id() for u in users}
    await session.execute(
        insert(Notification),
        [
            {
                "id": ids[u],
                "user_id": u,
                "kind": kind,
                "title": title,
                "body": body,
                "link": link,
                "object_type": object_type,
                "object_id": object_id,
                "sender_id": sender_id,
                "source": source,
                "read_at": None,
                "created_at": at,
            }
            for u in users
        ],
    )
    if push:
        publish_event(
            session,
            "notify.notification.created",
            {
                "kind": kind,
                "title": title,
                "body": body[:200],
                "link": link,
                "object_type": object_type,
                "object_id": object_id,
                "created_at": at.isoformat(),
            },
            users=users,
        )
    if sms_after is not None:
        outbox.enqueue(
            session,
            ESCALATE_HANDLER,
            {"notification_ids": list(ids.values()), "template": sms_template, "title": title},
            delay=sms_after,
        )
    return ids


def read(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "object_type": n.object_type,
        "object_id": n.object_id,
        "sender_id": n.sender_id,
        "read": n.read_at is not None,
        "read_at": n.read_at,
        "created_at": n.created_at,
    }


async def unread_count(session: AsyncSession, user_id: str) -> int:
    return (
        await session.execute(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
    ).scalar_one()


async def list_notifications(
    session: AsyncSession,
    actor: Actor,
    *,
    unread_only: bool = False,
    kind: str | None = None,
    before: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    stmt = select(Notification).where(Notification.user_id == actor.user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    if before:
        stmt = stmt.where(Notification.id < before)
    rows = list((await session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [read(n) for n in rows],
        "unread_count": await unread_count(session, actor.user_id),
        "next_before": rows[-1].id if more and rows else None,
    }


DING_KIND = "ding"


async def mark_read(session: AsyncSession, actor: Actor, notification_ids: Sequence[str]) -> int:
    """Mark the actor's own entries read (others' ids are 404, so existence does not leak)."""
    ids = list(dict.fromkeys(notification_ids))
    owned = set(
        (
            await session.scalars(
                select(Notification.id).where(Notification.id.in_(ids), Notification.user_id == actor.user_id)
            )
        ).all()
    )
    if len(owned) != len(ids):
        foreign = (
            await session.scalars(
                select(Notification.id)
                .where(Notification.id.in_([i for i in ids if i not in owned]))
                .limit(1)
            )
        ).first()
        raise NotFound(
            kind="notification",
            target_id=foreign or next(i for i in ids if i not in owned),
            exists=foreign is not None,
        )
    # A DING's entry is read by confirming the DING (ding.confirm_ding), never by a plain "read".
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.read_at.is_(None), Notification.kind != DING_KIND)
        .values(read_at=now())
    )
    count = await unread_count(session, actor.user_id)
    publish_event(
        session, "notify.notification.read", {"ids": ids, "unread_count": count}, users=[actor.user_id]
    )
    return count


async def mark_read_internal(session: AsyncSession, user_id: str, notification_ids: Sequence[str]) -> None:
    ids = [i for i in notification_ids if i]
    if not ids:
        return
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now())
    )
    count = await unread_count(session, user_id)
    publish_event(session, "notify.notification.read", {"ids": ids, "unread_count": count}, users=[user_id])


async def mark_all_read(session: AsyncSession, actor: Actor, *, kind: str | None = None) -> int:
    """Read all (or all of one kind). DING entries stay unconfirmed: a DING needs its own confirmation."""
    stmt = update(Notification).where(
        Notification.user_id == actor.user_id, Notification.read_at.is_(None), Notification.kind != DING_KIND
    )
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    result = await session.execute(stmt.values(read_at=now()))
    count = await unread_count(session, actor.user_id)
    publish_event(
        session,
        "notify.notification.read",
        {"all": True, "kind": kind, "unread_count": count},
        users=[actor.user_id],
    )
    return cast(CursorResult[Any], result).rowcount or 0
