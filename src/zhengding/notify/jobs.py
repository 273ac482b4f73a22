"""Outbox handlers of the notify domain (declared with their schedules in notify/manifest.py).

- "notify.deliver": inbox entries for users (jobs of other domains fan out through it);
- "notify.notification.escalate": SMS to those still unread after a delay;
- "notify.sms.send": one SMS (the provider call runs outside the transaction);
- "notify.sms.poll_status": delivery reports, every minute;
- "notify.ding.escalate": a DING's unread recipients get an SMS after its delay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.notify.models import Notification
from zhengding.notify.service import ding as ding_service
from zhengding.notify.service import inbox
from zhengding.notify.sms import providers
from zhengding.notify.sms import service as sms_service


async def deliver(session: AsyncSession, payload: dict[str, Any]) -> None:
    sms_after = payload.get("sms_after_minutes")
    await inbox.notify_users(
        session,
        payload["user_ids"],
        kind=payload.get("kind", "system"),
        title=payload["title"],
        body=payload.get("body", ""),
        link=payload.get("link"),
        object_type=payload.get("object_type"),
        object_id=payload.get("object_id"),
        sender_id=payload.get("sender_id"),
        source=payload.get("source"),
        sms_after=timedelta(minutes=sms_after) if sms_after is not None else None,
        sms_template=payload.get("sms_template", "notice_unread"),
    )


async def escalate_notifications(session: AsyncSession, payload: dict[str, Any]) -> None:
    from zhengding.accounts.service import users as user_service

    rows = (
        await session.execute(
            select(
                Notification.id, Notification.user_id, Notification.object_type, Notification.object_id
            ).where(Notification.id.in_(payload["notification_ids"]), Notification.read_at.is_(None))
        )
    ).all()
    phones = await user_service.phones_for(session, [r.user_id for r in rows])
    for row in rows:
        phone = phones.get(row.user_id)
        if phone:
            await sms_service.queue_sms(
                session,
                phone=phone,
                template=payload.get("template", "notice_unread"),
                params={"title": payload.get("title", "")},
                user_id=row.user_id,
                object_type=row.object_type,
                object_id=row.object_id,
            )


async def send_sms(session: AsyncSession, payload: dict[str, Any], result: dict[str, Any]) -> None:
    await sms_service.record_result(session, payload, result)


async def pull_reports(_: dict[str, Any]) -> list[providers.DeliveryReport]:
    return await providers.current().pull_reports()


async def poll_status(
    session: AsyncSession, _: dict[str, Any], reports: list[providers.DeliveryReport]
) -> None:
    await sms_service.apply_reports(session, reports)


async def escalate_ding(session: AsyncSession, payload: dict[str, Any]) -> None:
    await ding_service.escalate_ding(session, payload["ding_id"])
