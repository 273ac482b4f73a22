"""SMS use-cases: `queue_sms` (row + outbox row in the caller's transaction, per-phone limits),
`send_queued` / `record_result` (the outbox handler's two halves), `apply_reports` (delivery
status pulled from the provider), `list_messages` (administrators).

Limits per phone (by blind index, so no plaintext number is searched): verification codes at
most 1 a minute and 10 a day; notices at most ZD_SMS_NOTICE_PER_DAY a day (default 20) —
past it a notice is recorded as "rate_limited" and not sent, since the inbox still has it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.config import get_settings
from zhengding.core import outbox
from zhengding.core.clock import now
from zhengding.core.db import get_db
from zhengding.core.errors import RateLimited, ValidationFailed
from zhengding.core.ids import new_id
from zhengding.notify.models import SmsMessage
from zhengding.notify.sms import providers
from zhengding.notify.sms.templates import get_template
from zhengding.privacy.crypto import blind_index
from zhengding.privacy.idcard import normalize_phone, phone_error

QUEUED, SENT, DELIVERED, FAILED, RATE_LIMITED = "queued", "sent", "delivered", "failed", "rate_limited"
SEND_HANDLER = "notify.sms.send"

CODE_PER_MINUTE = 1
CODE_PER_DAY = 10


def notice_per_day() -> int:
    return get_settings().sms_notice_per_day


async def _count_since(session: AsyncSession, bidx: str, purpose: str, since: Any) -> int:
    return (
        await session.execute(
            select(func.count())
            .select_from(SmsMessage)
            .where(
                SmsMessage.phone_bidx == bidx,
                SmsMessage.purpose == purpose,
                SmsMessage.created_at >= since,
                SmsMessage.status != RATE_LIMITED,
            )
        )
    ).scalar_one()


async def queue_sms(
    session: AsyncSession,
    *,
    phone: str,
    template: str,
    params: dict[str, str],
    user_id: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
) -> SmsMessage:
    """Record an SMS and its outbox row; raises RateLimited for a code over the per-phone limits."""
    tpl = get_template(template)
    number = normalize_phone(phone)
    if phone_error(number):
        raise ValidationFailed("手机号码格式不正确")
    bidx = blind_index("phone", number)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Serialise the count-then-insert per phone across concurrent transactions.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": "sms:" + bidx})
    at = now()
    status = QUEUED
    if tpl.purpose == "code":
        if await _count_since(session, bidx, "code", at - timedelta(minutes=1)) >= CODE_PER_MINUTE:
            raise RateLimited("验证码发送过于频繁，请 1 分钟后再试")
        if await _count_since(session, bidx, "code", at - timedelta(days=1)) >= CODE_PER_DAY:
            raise RateLimited("该手机号今日接收验证码次数已达上限")
    elif await _count_since(session, bidx, tpl.purpose, at - timedelta(days=1)) >= notice_per_day():
        status = RATE_LIMITED
    message = SmsMessage(
        id=new_id(),
        user_id=user_id,
        phone=number,
        phone_bidx=bidx,
        phone_last4=number[-4:],
        purpose=tpl.purpose,
        template=tpl.name,
        params={k: str(v) for k, v in params.items()},
        status=status,
        object_type=object_type,
        object_id=object_id,
        created_at=at,
    )
    session.add(message)
    if status == QUEUED:
        outbox.enqueue(session, SEND_HANDLER, {"sms_id": message.id})
    return message


async def send_queued(payload: dict[str, Any]) -> dict[str, Any]:
    """Outside any transaction: call the provider for a queued message."""
    async with get_db().unit_of_work(readonly=True) as session:
        message = await session.get(SmsMessage, payload["sms_id"])
        if message is None or message.status != QUEUED:
            return {"skip": True}
        phone, template, params = message.phone, message.template, dict(message.params)
    provider = providers.current()
    try:
        mid = await provider.send(phone, get_template(template), params, ref=payload["sms_id"])
    except providers.PermanentSmsError as exc:
        return {"failed": str(exc)[:500], "provider": provider.name}
    return {"provider": provider.name, "mid": mid, "delivered": provider.reports_delivery_on_send}


async def record_result(session: AsyncSession, payload: dict[str, Any], result: dict[str, Any]) -> None:
    if result.get("skip"):
        return
    message = await session.get(SmsMessage, payload["sms_id"])
    if message is None or message.status != QUEUED:
        return
    at = now()
    message.provider = result.get("provider")
    if "failed" in result:
        message.status, message.error = FAILED, result["failed"]
        return
    message.provider_message_id = result["mid"]
    message.sent_at = at
    message.status = DELIVERED if result.get("delivered") else SENT
    if result.get("delivered"):
        message.delivered_at = at


async def apply_reports(session: AsyncSession, reports: list[providers.DeliveryReport]) -> int:
    if not reports:
        return 0
    by_id = {r.provider_message_id: r for r in reports}
    rows = (
        await session.scalars(select(SmsMessage).where(SmsMessage.provider_message_id.in_(list(by_id))))
    ).all()
    for message in rows:
        report = by_id[message.provider_message_id]  # type: ignore[index]
        if report.delivered:
            message.status, message.delivered_at = DELIVERED, report.at or now()
        else:
            message.status, message.error = FAILED, report.error
    return len(rows)


async def list_messages(
    session: AsyncSession, *, status: str | None, limit: int = 100, before: str | None = None
) -> list[SmsMessage]:
    stmt = select(SmsMessage)
    if status:
        stmt = stmt.where(SmsMessage.status == status)
    if before:
        stmt = stmt.where(SmsMessage.id < before)
    return list((await session.scalars(stmt.order_by(SmsMessage.id.desc()).limit(limit))).all())
