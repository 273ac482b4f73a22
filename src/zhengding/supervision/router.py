"""Supervision (督办) endpoints: assign, board, to-dos, detail, progress, review, urge,
deadline change, cancel, statistics, unit leaders."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.http.deps import current_actor, get_session
from zhengding.http.paging import Page, paging
from zhengding.http.routing import make_router
from zhengding.supervision.schemas import (
    BoardRead,
    CancelCreate,
    CancelRead,
    DeadlineChange,
    DeadlineRead,
    ItemCreate,
    ItemRead,
    LeaderCreate,
    LeaderRead,
    ProgressCreate,
    ProgressRead,
    ReviewCreate,
    ReviewRead,
    SplitCreate,
    StatsRead,
    StopRead,
    TodosRead,
    UrgeCreate,
    UrgeRead,
)
from zhengding.supervision.service import boards, changes, items, progress

router = make_router("/api/supervision", tags=["督办"])


@router.post("/items", status_code=201, response_model=ItemRead)
async def create_item(
    body: ItemCreate, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    item = await items.create_item(session, actor, body)
    return await items.item_detail(session, actor, item.id)


@router.get("/items", response_model=BoardRead)
async def board(
    status: str | None = Query(None, pattern="^(open|closed|review|cancelled)$"),
    overdue: bool | None = None,
    owner_unit_id: str | None = None,
    q: str | None = Query(None, max_length=100),
    recurring: bool = False,
    p: Page = paging(size=20, max_size=100),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await boards.assigner_board(
        session,
        actor,
        status=status,
        overdue=overdue,
        owner_unit_id=owner_unit_id,
        q=q,
        recurring=recurring,
        page=p.page,
        page_size=p.size,
    )


@router.get("/todos", response_model=TodosRead)
async def todos(
    done: bool = False, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    return await boards.todo_list(session, actor, done=done)


@router.get("/stats", response_model=StatsRead)
async def stats(
    unit_id: str | None = None,
    start: str | None = None,
    end: str | None = None,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await boards.statistics(session, actor, unit_id=unit_id, start=start, end=end)


@router.get("/items/{item_id}", response_model=ItemRead)
async def item_detail(
    item_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    return await items.item_detail(session, actor, item_id)


@router.post("/items/{item_id}/split", status_code=201, response_model=ItemRead)
async def split_item(
    item_id: str,
    body: SplitCreate,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    child = await items.split_item(session, actor, item_id, body)
    return await items.item_detail(session, actor, child.id)


@router.post("/items/{item_id}/progress", response_model=ProgressRead)
async def report_progress(
    item_id: str,
    body: ProgressCreate,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await progress.report_progress(session, actor, item_id, body)


@router.post("/items/{item_id}/review", response_model=ReviewRead)
async def review_report(
    item_id: str,
    body: ReviewCreate,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await progress.review_report(session, actor, item_id, body)


@router.post("/items/{item_id}/urge", response_model=UrgeRead)
async def urge_item(
    item_id: str,
    body: UrgeCreate | None = Body(None),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await progress.urge_item(session, actor, item_id, body)


@router.post("/items/{item_id}/deadline", response_model=DeadlineRead)
async def change_deadline(
    item_id: str,
    body: DeadlineChange,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await changes.change_deadline(session, actor, item_id, body)


@router.post("/items/{item_id}/cancel", response_model=CancelRead)
async def cancel_item(
    item_id: str,
    body: CancelCreate,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    return await changes.cancel_item(session, actor, item_id, body)


@router.post("/items/{item_id}/stop", response_model=StopRead)
async def stop_recurring(
    item_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, Any]:
    item = await items.stop_recurring(session, actor, item_id)
    return {"id": item.id, "status": item.status}


@router.get("/leaders", response_model=list[LeaderRead])
async def list_leaders(
    unit_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> list[dict[str, Any]]:
    return await boards.list_leaders(session, actor, unit_id)


@router.post("/leaders", status_code=201, response_model=list[LeaderRead])
async def add_leader(
    body: LeaderCreate, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> list[dict[str, Any]]:
    return await boards.add_leader(session, actor, body.unit_id, body.user_id)


@router.delete("/leaders/{unit_id}/{user_id}", response_model=list[LeaderRead])
async def remove_leader(
    unit_id: str,
    user_id: str,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> list[dict[str, Any]]:
    return await boards.remove_leader(session, actor, unit_id, user_id)
