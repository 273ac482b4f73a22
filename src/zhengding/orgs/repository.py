"""Every SELECT of the org tree; lists go through the scope filter."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import User
from zhengding.authz.actor import Actor
from zhengding.authz.scope import restrict
from zhengding.orgs.models import Membership, OrgUnit, OrgVersion


async def get_unit(session: AsyncSession, unit_id: str) -> OrgUnit | None:
    return await session.get(OrgUnit, unit_id)


async def units_by_ids(session: AsyncSession, ids: Sequence[str]) -> list[OrgUnit]:
    if not ids:
        return []
    return list((await session.execute(select(OrgUnit).where(OrgUnit.id.in_(ids)))).scalars())


async def children(session: AsyncSession, unit_id: str) -> list[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.parent_id == unit_id).order_by(OrgUnit.sort_key, OrgUnit.name)
    return list((await session.execute(stmt)).scalars())


async def child_counts(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(OrgUnit.parent_id, func.count()).where(OrgUnit.parent_id.in_(ids)).group_by(OrgUnit.parent_id)
    )
    return {parent: count for parent, count in rows.all() if parent is not None}


async def member_counts(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Membership.unit_id, func.count())
        .where(Membership.unit_id.in_(ids))
        .group_by(Membership.unit_id)
    )
    return {unit: count for unit, count in rows.all()}


async def search_units(
    session: AsyncSession,
    actor: Actor,
    permission: str,
    q: str,
    limit: int,
    *,
    under_path: str | None = None,
    kind: str | None = None,
) -> list[OrgUnit]:
    stmt = restrict(
        select(OrgUnit).where(OrgUnit.name.contains(q, autoescape=True)), actor, permission, path=OrgUnit.path
    )
    if under_path:
        stmt = stmt.where(OrgUnit.path.startswith(under_path, autoescape=False))
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    return list((await session.execute(stmt.order_by(OrgUnit.level, OrgUnit.name).limit(limit))).scalars())


def people_in_scope(actor: Actor, permission: str):  # type: ignore[no-untyped-def]
    """SELECT of users with at least one membership inside the actor's scope."""
    visible = restrict(
        select(Membership.user_id).join(OrgUnit, OrgUnit.id == Membership.unit_id),
        actor,
        permission,
        path=OrgUnit.path,
    )
    return select(User).where(User.id.in_(visible))


async def memberships_of(session: AsyncSession, user_ids: Sequence[str]) -> list[tuple[Membership, OrgUnit]]:
    if not user_ids:
        return []
    rows = await session.execute(
        select(Membership, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .where(Membership.user_id.in_(user_ids))
        .order_by(Membership.is_primary.desc(), Membership.created_at)
    )
    return [(m, u) for m, u in rows.all()]


async def members(session: AsyncSession, unit_id: str) -> list[User]:
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.unit_id == unit_id)
        .order_by(User.name)
    )
    return list((await session.execute(stmt)).scalars())


async def org_version(session: AsyncSession) -> int | None:
    """The org version (None on a schema built without migration 0009's row and triggers)."""
    return (await session.execute(select(OrgVersion.version).where(OrgVersion.id == 1))).scalar_one_or_none()


async def member_user_ids(session: AsyncSession, unit_ids: Sequence[str], *, subtree: bool) -> list[str]:
    if not unit_ids:
        return []
    if subtree:
        paths = (await session.execute(select(OrgUnit.path).where(OrgUnit.id.in_(unit_ids)))).scalars().all()
        if not paths:
            return []
        stmt = (
            select(Membership.user_id)
            .join(OrgUnit, OrgUnit.id == Membership.unit_id)
            .where(or_(*[OrgUnit.path.startswith(p) for p in paths]))
            .distinct()
        )
    else:
        stmt = select(Membership.user_id).where(Membership.unit_id.in_(unit_ids)).distinct()
    return list((await session.execute(stmt)).scalars())
