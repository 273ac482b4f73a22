"""Inbox, DING and outbox/SMS administration endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core import outbox
from zhengding.core.errors import NotFound
from zhengding.http.deps import current_actor, get_session
from zhengding.http.paging import Keyset, keyset
from zhengding.http.routing import make_router
from zhengding.notify.schemas import DingCreate, DingRemind, NotificationsRead, NotificationsReadAll
from zhengding.notify.service import ding as ding_service
from zhengding.notify.service import inbox
from zhengding.notify.sms import service as sms_service

router = make_router("/api", tags=["通知与DING"])


# --- inbox ---


@router.get("/notifications")
async def list_notifications(
    unread: bool = False,
    kind: str | None = None,
    k: Keyset = keyset(size=20, max_size=100),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await inbox.list_notifications(
        session, actor, unread_only=unread, kind=kind, before=k.before, limit=k.limit
    )


@router.get("/notifications/unread-count")
async def unread_count(
    actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, int]:
    return {"unread_count": await inbox.unread_count(session, actor.user_id)}


@router.post("/notifications/{notification_id}/read")
async def read_one(
    notification_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, int]:
    return {"unread_count": await inbox.mark_read(session, actor, [notification_id])}


@router.post("/notifications/read")
async def read_many(
    body: NotificationsRead,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, int]:
    return {"unread_count": await inbox.mark_read(session, actor, body.ids)}


@router.post("/notifications/read-all")
async def read_all(
    body: NotificationsReadAll | None = Body(None),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, int]:
    updated = await inbox.mark_all_read(session, actor, kind=body.kind if body else None)
    return {"updated": updated, "unread_count": await inbox.unread_count(session, actor.user_id)}


# --- DING ---


@router.post("/ding", status_code=201)
async def send_ding(
    body: DingCreate, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    ding = await ding_service.send_ding(session, actor, **body.model_dump())
    return await ding_service.ding_detail(session, actor, ding.id)


@router.get("/ding/sent")
async def list_sent(
    k: Keyset = keyset(size=20, max_size=100),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> list[dict]:
    return await ding_service.list_sent(session, actor, before=k.before, limit=k.limit)


@router.get("/ding/received")
async def list_received(
    unread: bool = False,
    k: Keyset = keyset(size=20, max_size=100),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> list[dict]:
    return await ding_service.list_received(
        session, actor, unread_only=unread, before=k.before, limit=k.limit
    )


@router.get("/ding/{ding_id}")
async def ding_detail(
    ding_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    return await ding_service.ding_detail(session, actor, ding_id)


@router.post("/ding/{ding_id}/confirm")
async def confirm_ding(
    ding_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    return await ding_service.confirm_ding(session, actor, ding_id)


@router.post("/ding/{ding_id}/remind")
async def remind_unread(
    ding_id: str,
    body: DingRemind | None = Body(None),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await ding_service.remind_unread(session, actor, ding_id, sms=bool(body and body.sms))


# --- administration: dead letters, SMS delivery ---


def _row(r: outbox.OutboxRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "handler": r.handler,
        "payload": r.payload,
        "status": r.status,
        "attempts": r.attempts,
        "available_at": r.available_at,
        "last_error": r.last_error,
        "created_at": r.created_at,
        "done_at": r.done_at,
    }


@router.get("/outbox")
async def list_outbox(
    status: str = Query(outbox.DEAD, pattern="^(pending|running|done|dead)$"),
    k: Keyset = keyset(size=50, max_size=200),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    rows = await outbox.list_rows(session, status=status, before=k.before, limit=k.limit)
    return {"items": [_row(r) for r in rows], "counts": await outbox.count_by_status(session)}


@router.post("/outbox/{row_id}/retry")
async def retry_outbox(
    row_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    row = await outbox.retry_dead(session, row_id)
    if row is None:
        raise NotFound("没有这条失败任务")
    audit.record(
        session,
        actor,
        "outbox.retry",
        target_type="outbox",
        target_id=row_id,
        detail={"handler": row.handler},
    )
    return _row(row)


@router.get("/sms")
async def list_sms(
    status: str | None = Query(None, pattern="^(queued|sent|delivered|failed|rate_limited)$"),
    k: Keyset = keyset(size=50, max_size=200),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> list[dict]:
    rows = await sms_service.list_messages(session, status=status, before=k.before, limit=k.limit)
    return [
        {
            "id": m.id,
            "user_id": m.user_id,
            "phone_masked": f"{'*' * 7}{m.phone_last4}",
            "purpose": m.purpose,
            "template": m.template,
            "status": m.status,
            "provider": m.provider,
            "error": m.error,
            "object_type": m.object_type,
            "object_id": m.object_id,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
            "delivered_at": m.delivered_at,
        }
        for m in rows
    ]
