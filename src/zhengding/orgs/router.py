from __future__ import annotations

from typing import Literal

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.http.deps import current_actor, get_session
from zhengding.http.routing import make_router
from zhengding.orgs import service
from zhengding.orgs.schemas import (
    PersonRead,
    SearchResult,
    UnitCreate,
    UnitDetail,
    UnitMove,
    UnitRead,
    UnitUpdate,
)

router = make_router("/api", tags=["通讯录与组织机构"])


@router.get("/orgs/roots", response_model=list[UnitRead])
async def roots(actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)):
    return await service.root_units(session, actor)


@router.get("/orgs/{unit_id}", response_model=UnitDetail)
async def unit_detail(
    unit_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    return await service.unit_detail(session, actor, unit_id)


@router.get("/orgs/{unit_id}/children", response_model=list[UnitRead])
async def children(
    unit_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    return await service.list_children(session, actor, unit_id)


@router.get("/orgs/{unit_id}/members", response_model=list[PersonRead])
async def members(
    unit_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    return await service.list_members(session, actor, unit_id)


@router.post("/orgs", response_model=UnitRead, status_code=201)
async def create_unit(
    body: UnitCreate, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    return await service.create_unit(session, actor, body.parent_id, body.name, body.kind)


@router.patch("/orgs/{unit_id}", response_model=UnitRead)
async def rename_unit(
    unit_id: str,
    body: UnitUpdate,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    return await service.rename_unit(session, actor, unit_id, body.name)


@router.post("/orgs/{unit_id}/move", response_model=UnitRead)
async def move_unit(
    unit_id: str,
    body: UnitMove,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    return await service.move_unit(session, actor, unit_id, body.new_parent_id)


@router.get("/directory/search", response_model=SearchResult)
async def search(
    q: str = "",
    under: str | None = None,
    kind: Literal["command", "committee", "department", "grid"] | None = None,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    units, people = await service.search_directory(session, actor, q[:50], under=under, kind=kind)
    return SearchResult(units=units, people=people)


@router.get("/people/{user_id}", response_model=PersonRead)
async def person(
    user_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    return await service.person(session, actor, user_id)
