"""Key-person verification API (thin endpoints: parse, call one service function, return)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.roster_router import XLSX, attachment
from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core.clock import ClientTime
from zhengding.core.errors import PayloadTooLarge
from zhengding.http.deps import current_actor, get_session
from zhengding.http.paging import Days, Page, days, paging
from zhengding.http.routing import make_router
from zhengding.verification import nat
from zhengding.verification.schemas import (
    BatchDeadline,
    DispatchRequest,
    ReplyCreate,
    ReviewDecision,
    TransferCreate,
    TransferDecision,
)
from zhengding.verification.service import dispatch, export, imports, reply, stats, tasks, transfer

router = make_router("/api/verification", tags=["重点人员核查"])
Me = Depends(current_actor)
Session = Depends(get_session)


async def _read_upload(file: UploadFile) -> bytes:
    limit = get_settings().max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"上传的文件过大（上限 {limit // 1_048_576} MB）")
    return content


@router.post("/imports")
async def import_batch(
    file: UploadFile = File(...),
    name: str | None = Form(None),
    deadline: ClientTime | None = Form(None),
    batch_id: str | None = Form(None),
    progress_token: str | None = Form(None),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> dict[str, Any]:
    result = await imports.import_batch(
        session,
        actor,
        await _read_upload(file),
        file.filename or "",
        name=name,
        deadline=deadline,
        batch_id=batch_id,
        progress_token=progress_token,
    )
    return result.__dict__


@router.get("/batches")
async def list_batches(actor: Actor = Me, session: AsyncSession = Session) -> list[dict[str, Any]]:
    return await imports.list_batches(session, actor)


@router.post("/batches/{batch_id}/deadline")
async def set_batch_deadline(
    batch_id: str, body: BatchDeadline, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await imports.set_batch_deadline(session, actor, batch_id, body.deadline)


@router.get("/batches/{batch_id}/report", response_class=Response)
async def batch_report(batch_id: str, actor: Actor = Me, session: AsyncSession = Session) -> Response:
    filename, content = await imports.batch_report(session, actor, batch_id)
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.get("/tasks")
async def list_tasks(
    batch_id: str | None = None,
    status: str | None = None,
    unit_id: str | None = None,
    mine: bool = False,
    review: bool = False,
    overdue: bool = False,
    waiting: bool = False,
    q: str | None = Query(None, max_length=100),
    p: Page = paging(size=50, max_size=500),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> dict[str, Any]:
    return await tasks.list_tasks(
        session,
        actor,
        batch_id=batch_id,
        status=status,
        unit_id=unit_id,
        mine=mine,
        review=review,
        overdue=overdue,
        waiting=waiting,
        q=q,
        page=p.page,
        page_size=p.size,
    )


@router.get("/tasks/export", response_class=Response)
async def export_tasks(
    batch_id: str | None = None,
    status: str | None = None,
    unit_id: str | None = None,
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> Response:
    filename, content = await export.export_tasks(
        session, actor, batch_id=batch_id, status=status, unit_id=unit_id
    )
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.post("/tasks/dispatch")
async def dispatch_tasks(
    body: DispatchRequest, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await dispatch.dispatch_tasks(
        session,
        actor,
        task_ids=body.task_ids,
        batch_id=body.batch_id,
        unit_id=body.unit_id,
        user_id=body.user_id,
        by_clue=body.by_clue,
        deadline=body.deadline,
    )


@router.get("/units/{unit_id}/assignees")
async def assignees(unit_id: str, actor: Actor = Me, session: AsyncSession = Session) -> list[dict[str, Any]]:
    return await dispatch.assignable_people(session, actor, unit_id)


@router.get("/tasks/{task_id}")
async def task_detail(task_id: str, actor: Actor = Me, session: AsyncSession = Session) -> dict[str, Any]:
    return await tasks.task_detail(session, actor, task_id)


@router.post("/tasks/{task_id}/reply")
async def reply_task(
    task_id: str, body: ReplyCreate, actor: Actor = Me, session: AsyncSession = Session
) -> dict:
    await reply.reply_task(session, actor, task_id, **body.model_dump())
    return {"ok": True}


@router.post("/tasks/{task_id}/photos")
async def upload_photo(
    task_id: str, file: UploadFile = File(...), actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await reply.add_photo(session, actor, task_id, await _read_upload(file))


@router.get("/photos/{photo_id}", response_class=Response)
async def photo(photo_id: str, actor: Actor = Me, session: AsyncSession = Session) -> Response:
    kind, content = await reply.photo(session, actor, photo_id)
    return Response(content, media_type=kind, headers={"Cache-Control": "private, no-store"})


@router.post("/tasks/{task_id}/review")
async def review(
    task_id: str, body: ReviewDecision, actor: Actor = Me, session: AsyncSession = Session
) -> dict:
    task = await reply.review_reply(session, actor, task_id, accept=body.accept, reason=body.reason)
    return {"ok": True, "status": task.status}


@router.post("/tasks/{task_id}/transfer")
async def request_transfer(
    task_id: str, body: TransferCreate, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    t = await transfer.request_transfer(session, actor, task_id, body.to_unit_id, body.reason)
    return {"id": t.id, "status": t.status}


@router.get("/transfer-targets")
async def transfer_targets(
    task_id: str, q: str = Query("", max_length=50), actor: Actor = Me, session: AsyncSession = Session
) -> list[dict[str, Any]]:
    return await transfer.transfer_targets(session, actor, task_id, q)


@router.get("/transfers")
async def list_transfers(
    box: str = Query("in", pattern="^(in|out|all)$"),
    status: str | None = None,
    p: Page = paging(size=50, max_size=200),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> dict[str, Any]:
    return await transfer.list_transfers(
        session, actor, box=box, status=status, page=p.page, page_size=p.size
    )


@router.post("/transfers/{transfer_id}/accept")
async def accept_transfer(
    transfer_id: str, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    t = await transfer.decide_transfer(session, actor, transfer_id, accept=True)
    return {"id": t.id, "status": t.status}


@router.post("/transfers/{transfer_id}/reject")
async def reject_transfer(
    transfer_id: str, body: TransferDecision, actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    t = await transfer.decide_transfer(session, actor, transfer_id, accept=False, reason=body.reason)
    return {"id": t.id, "status": t.status}


@router.get("/stats")
async def unit_stats(
    unit_id: str | None = None,
    batch_id: str | None = None,
    d: Days = days(),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> dict[str, Any]:
    return await stats.unit_stats(
        session, actor, unit_id, batch_id=batch_id, day_from=d.day_from, day_to=d.day_to
    )


@router.get("/stats/batches")
async def batch_stats(
    unit_id: str | None = None, d: Days = days(), actor: Actor = Me, session: AsyncSession = Session
) -> list[dict[str, Any]]:
    return await stats.batch_stats(session, actor, unit_id, day_from=d.day_from, day_to=d.day_to)


@router.get("/stats/daily")
async def daily_stats(
    unit_id: str | None = None,
    batch_id: str | None = None,
    d: Days = days(),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> list[dict[str, Any]]:
    return await stats.daily_stats(
        session, actor, unit_id, batch_id=batch_id, day_from=d.day_from, day_to=d.day_to
    )


@router.get("/stats/export", response_class=Response)
async def export_stats(
    unit_id: str | None = None,
    batch_id: str | None = None,
    d: Days = days(),
    actor: Actor = Me,
    session: AsyncSession = Session,
) -> Response:
    filename, content = await export.export_stats(
        session, actor, unit_id, batch_id=batch_id, day_from=d.day_from, day_to=d.day_to
    )
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.post("/nat-results/import")
async def import_nat(
    file: UploadFile = File(...), actor: Actor = Me, session: AsyncSession = Session
) -> dict[str, Any]:
    return await nat.import_results(session, actor, await _read_upload(file), file.filename or "")


@router.get("/nat-results/imports/{import_id}/report", response_class=Response)
async def nat_report(import_id: str, actor: Actor = Me, session: AsyncSession = Session) -> Response:
    filename, content = await nat.import_report(session, actor, import_id)
    return Response(content, media_type=XLSX, headers=attachment(filename))
