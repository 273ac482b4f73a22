"""Helpers for the supervision tests: units of the personas, creating items, running the sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from zhengding.core.clock import now
from zhengding.core.db import get_db
from zhengding.notify.models import Notification, SmsMessage
from zhengding.supervision import jobs as supervision_jobs


async def create(
    client,
    persona,
    owners: list[dict[str, Any]],
    *,
    title: str = "落实春节返乡人员排查",
    deadline=None,
    expect: int = 201,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "title": title,
        "content": "请于时限内完成排查并报送落实情况",
        "source_kind": "instruction",
        "source_ref": "琼指〔2022〕12号",
        "priority": "urgent",
        "deadline": (deadline or now() + timedelta(days=3)).isoformat(),
        "owners": owners,
        **extra,
    }
    r = await client.post("/api/supervision/items", json=body, headers=persona.headers)
    assert r.status_code == expect, r.text
    return r.json()


async def sweep() -> dict[str, int]:
    async with get_db().unit_of_work() as session:
        return await supervision_jobs.run_sweep(session)


async def notifications(user_id: str, item_id: str, kind: str | None = None) -> list[str]:
    """Ids of the user's inbox entries about the item (of one kind)."""
    async with get_db().unit_of_work(readonly=True) as session:
        stmt = select(Notification.id).where(
            Notification.user_id == user_id, Notification.object_id == item_id
        )
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return list((await session.scalars(stmt.order_by(Notification.id))).all())


async def sms_users(item_id: str) -> list[str]:
    async with get_db().unit_of_work(readonly=True) as session:
        return list(
            (await session.scalars(select(SmsMessage.user_id).where(SmsMessage.object_id == item_id))).all()
        )


def owner(detail: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in detail["owners"] if o["name"] == name)


async def fresh(client, persona) -> dict[str, str]:
    """Headers of a new session: with the clock moved, the personas' sessions have gone idle."""
    from tests.conftest import login
    from zhengding import demo

    return {"Authorization": f"Bearer {await login(client, persona.username, demo.DEMO_PASSWORD)}"}
