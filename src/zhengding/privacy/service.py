"""Reveal-with-reason: the one way to read personal data in clear through the API.

Each domain registers a revealer for its target type; a reveal needs the permission, a stated
reason, stays within the rate limit, goes through the domain's access_* loader (scope) and is
audited (who, what field of which object, why; never the value)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.audit.models import AuditEntry
from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core.clock import now
from zhengding.core.errors import NotFound, RateLimited, ValidationFailed, field_error

Revealer = Callable[[AsyncSession, Actor, str, str], Awaitable[str | None]]
_revealers: dict[str, Revealer] = {}
REVEAL_ACTION = "privacy.personal_data.revealed"


def register_revealer(target_type: str, revealer: Revealer) -> None:
    _revealers[target_type] = revealer


async def reveal(
    session: AsyncSession, actor: Actor, target_type: str, target_id: str, field: str, reason: str
) -> str:
    reason = reason.strip()
    if len(reason) < 4:
        raise ValidationFailed("请填写查看原因（至少4个字）", [field_error("reason", "查看原因过短")])
    revealer = _revealers.get(target_type)
    if revealer is None:
        raise NotFound("不支持的对象类型")
    since = now() - timedelta(hours=1)
    used = (
        await session.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.actor_id == actor.user_id,
                AuditEntry.action == REVEAL_ACTION,
                AuditEntry.at >= since,
            )
        )
    ).scalar_one()
    if used >= get_settings().reveal_per_hour:
        raise RateLimited("查看敏感信息过于频繁，请一小时后再试")
    value = await revealer(session, actor, target_id, field)
    if value is None:
        raise NotFound("该字段没有内容")
    audit.record(
        session,
        actor,
        REVEAL_ACTION,
        target_type=target_type,
        target_id=target_id,
        detail={"field": field, "reason": reason},
    )
    return value
